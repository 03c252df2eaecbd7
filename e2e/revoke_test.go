package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"

	"github.com/tvmkit/tvm/client"
)

// TestRevokeThroughLocalAWS: `tvm-broker revoke --apply`, run with the
// operator's (admin's) keys, attaches to every role of the example
// configuration a Deny that the local AWS enforces, through the real SDK:
// tenant 1's credentials vended before it are denied — by session name
// under "read", by session tag under "abac-read" — while tenant 12's (whose
// id starts with 1) and tenant 2's, old and new, keep working; the broker's
// own identity is refused; --list shows the revocations and --remove lifts
// them.
func TestRevokeThroughLocalAWS(t *testing.T) {
	s := startStack(t, "")
	s.seed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	example := filepath.Join(repoRoot(t), "examples", "broker.yaml")
	vend := func(tenant, profile, subject string) *dynamodb.Client {
		t.Helper()
		p := client.New(s.brokerURL, client.StaticToken(mintToken(t, s.localURL, tenant, subject)), func(o *client.Options) { o.Profile = profile })
		c, err := p.Retrieve(ctx)
		if err != nil {
			t.Fatalf("vend %s/%s: %v", tenant, profile, err)
		}
		fixed := credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		return dynamodb.New(dynamodb.Options{Region: region, Credentials: fixed, BaseEndpoint: aws.String(s.localURL)})
	}
	type session struct {
		name   string
		db     *dynamodb.Client
		tenant string
	}
	old := []session{
		{"tenant 1, read (by session name)", vend("1", "read", "svc"), "1"},
		{"tenant 1, abac-read (by session tag)", vend("1", "abac-read", "svc"), "1"},
		{"tenant 12, read", vend("12", "read", "svc"), "12"},
		{"tenant 2, read", vend("2", "read", "svc"), "2"},
		{"tenant 2, abac-read", vend("2", "abac-read", "svc"), "2"},
	}
	check := func(when string, sessions []session, deniedTenant string) {
		t.Helper()
		for _, sess := range sessions {
			_, err := queryCount(ctx, sess.db, sess.tenant, false)
			var apiErr smithy.APIError
			denied := errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException"
			if want := sess.tenant == deniedTenant; denied != want || (!denied && err != nil) {
				t.Errorf("%s: %s: err %v, want denied %v", when, sess.name, err, want)
			}
		}
	}
	check("before the revocation", old, "")

	operator := []string{"AWS_ACCESS_KEY_ID=" + adminKeyID, "AWS_SECRET_ACCESS_KEY=" + adminSecret, "AWS_ENDPOINT_URL=" + s.localURL}
	brokerKeys := []string{"AWS_ACCESS_KEY_ID=" + brokerKeyID, "AWS_SECRET_ACCESS_KEY=" + brokerSecret, "AWS_ENDPOINT_URL=" + s.localURL}
	revoke := func(env []string, args ...string) (string, int) {
		return run(t, env, "tvm-broker", append([]string{"revoke", "--config", example}, args...)...)
	}
	if out, code := revoke(brokerKeys, "--tenant", "1", "--apply", "--broker-identity", "arn:aws:iam::123456789012:user/broker"); code == 0 ||
		!strings.Contains(out, "refusing to run as the broker's own identity arn:aws:iam::123456789012:user/broker") {
		t.Errorf("revoke as the known broker identity: exit %d\n%s", code, out)
	}
	if out, code := revoke(brokerKeys, "--tenant", "1", "--apply"); code == 0 || !strings.Contains(out, "AccessDenied") {
		t.Errorf("revoke with the broker's keys: exit %d, want IAM's AccessDenied\n%s", code, out)
	}
	out, code := revoke(operator, "--tenant", "1", "--apply")
	if code != 0 || strings.Count(out, "attached tvm-revoke@1@") != 6 {
		t.Fatalf("revoke --apply: exit %d, want the revocation on the 6 roles of the example\n%s", code, out)
	}
	check("after the revocation", old, "1")
	fresh := []session{
		{"tenant 2, new read session", vend("2", "readwrite", "new-subject"), "2"},
		{"tenant 12, new abac-read session", vend("12", "abac-read", "svc"), "12"},
	}
	check("new sessions of other tenants", fresh, "")

	if out, code := revoke(operator, "--list", "--tenant", "1"); code != 0 || strings.Count(out, "tvm-revoke@1@") != 6 || !strings.Contains(out, "active") {
		t.Errorf("revoke --list: exit %d\n%s", code, out)
	}
	if out, code := revoke(operator, "--list", "--tenant", "12"); code != 0 || strings.Contains(out, "tvm-revoke@") {
		t.Errorf("revoke --list --tenant 12 lists tenant 1's revocations: exit %d\n%s", code, out)
	}
	if out, code := revoke(operator, "--remove", "--tenant", "1"); code != 0 || !strings.Contains(out, "6 revocation(s) removed") {
		t.Fatalf("revoke --remove: exit %d\n%s", code, out)
	}
	check("after --remove", old, "")
}
