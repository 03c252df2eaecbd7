package localaws

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
)

func (st *stack) iam(key, secret string) *awsiam.Client {
	return awsiam.NewFromConfig(st.cfg, func(o *awsiam.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, "")
		o.HTTPSignerV4 = clockSigner{st.clock}
	})
}

// Revocation as AWS documents it ("Revoking IAM role temporary security
// credentials"): a Deny on aws:TokenIssueTime earlier than a cut-off, put
// on the role through the IAM API, denies the DynamoDB calls of sessions
// issued before the cut-off — sessions that already exist — and not those
// of sessions issued after it; removing it restores the old session.
func TestRevokeOlderSessionsThroughIAM(t *testing.T) {
	st := startStack(t, "")
	seed(t, st)
	ctx := context.Background()
	old := sessionClient(st, assume(t, st, readRole, "t-1-old", tenantPolicy("1", "GetItem")))
	st.clock.Advance(2 * time.Second)
	cutoff := st.clock.Now().UTC().Truncate(time.Second)
	st.clock.Advance(2 * time.Second)
	fresh := sessionClient(st, assume(t, st, readRole, "t-1-new", tenantPolicy("1", "GetItem")))
	get := func(db *dynamodb.Client) (string, string) {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("Tenant#1", "Item#1")})
		return errCode(err)
	}
	if code, msg := get(old); code != "" {
		t.Fatalf("old session before revocation: %s %s", code, msg)
	}

	admin := st.iam(adminKey, adminSecret)
	doc := `{"Version":"2012-10-17","Statement":{"Sid":"RevokeOlderSessions","Effect":"Deny","Action":"*","Resource":"*",` +
		`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + cutoff.Format(time.RFC3339) + `"}}}}`
	if _, err := admin.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("tvm-tenant-read"),
		PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatalf("PutRolePolicy: %v", err)
	}
	wantMsg := "User: arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1-old is not authorized to perform: dynamodb:GetItem on resource: " +
		tableARN + " with an explicit deny in an identity-based policy"
	if code, msg := get(old); code != "AccessDeniedException" || msg != wantMsg {
		t.Errorf("old session after revocation: %s %q", code, msg)
	}
	if code, msg := get(fresh); code != "" {
		t.Errorf("session issued after the cut-off: %s %s", code, msg)
	}
	// The broker may read the Deny (to report it) but not remove it.
	broker := st.iam(brokerKey, brokerSecret)
	if _, err := broker.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("tvm-tenant-read"), PolicyName: aws.String("AWSRevokeOlderSessions")}); err != nil {
		t.Errorf("broker GetRolePolicy: %v", err)
	}
	if _, err := broker.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String("tvm-tenant-read"), PolicyName: aws.String("AWSRevokeOlderSessions")}); err == nil {
		t.Error("broker removed the revocation")
	}
	if _, err := admin.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String("tvm-tenant-read"),
		PolicyName: aws.String("AWSRevokeOlderSessions")}); err != nil {
		t.Fatalf("DeleteRolePolicy: %v", err)
	}
	if code, msg := get(old); code != "" {
		t.Errorf("old session after the Deny was removed: %s %s", code, msg)
	}
}
