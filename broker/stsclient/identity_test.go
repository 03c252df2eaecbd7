package stsclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/testenv"
)

// failingProvider is a credential source that always fails with err.
type failingProvider struct{ err error }

func (p failingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, p.err
}

// configFor returns an SDK configuration on endpoint with creds.
func configFor(t *testing.T, endpoint string, creds aws.CredentialsProvider) aws.Config {
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: creds, HTTPClient: hc}
}

// TestGetCallerIdentity: the answer, and the key id's last 4 characters
// (the most of it that is logged) when built from a configuration.
func TestGetCallerIdentity(t *testing.T) {
	fake := &testenv.STS{KeyID: brokerKeyID, Region: "us-east-1", CallerARN: "arn:aws:iam::123456789012:user/broker"}
	endpoint := testenv.StartSTS(t, fake)
	tests := map[string]struct {
		client *Client
		want   vend.CallerIdentity
	}{
		"from a configuration": {
			client: NewFromConfig(configFor(t, endpoint, credentials.NewStaticCredentialsProvider(brokerKeyID, brokerSecret, ""))),
			want:   vend.CallerIdentity{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/broker", UserID: "AIDAFAKESTSUSER00001", KeySuffix: "0001"},
		},
		"from an SDK client": {
			client: New(newSDK(t, endpoint)),
			want:   vend.CallerIdentity{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/broker", UserID: "AIDAFAKESTSUSER00001"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.client.GetCallerIdentity(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
	if bad := fake.Violations(); len(bad) > 0 {
		t.Errorf("protocol violations: %q", bad)
	}
}

// TestNoCredentials: a configuration without credentials, or whose source
// fails, never reaches STS and says so (NoCredentials), keeping the
// source's facts; STS's own refusals do not set it.
func TestNoCredentials(t *testing.T) {
	fake := &testenv.STS{Fail: func(int, url.Values) string { return "InvalidClientTokenId" }}
	endpoint := testenv.StartSTS(t, fake)
	sourceErr := errors.New("no EC2 IMDS role found")
	tests := map[string]struct {
		creds         aws.CredentialsProvider
		noCredentials bool
		code          string
	}{
		"no provider":              {creds: nil, noCredentials: true},
		"failing provider":         {creds: failingProvider{err: sourceErr}, noCredentials: true},
		"STS refuses the key":      {creds: credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000001", "x", ""), code: "InvalidClientTokenId"},
		"provider failing, cached": {creds: aws.NewCredentialsCache(failingProvider{err: sourceErr}), noCredentials: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			calls := len(fake.Calls())
			c := NewFromConfig(configFor(t, endpoint, tc.creds))
			for _, call := range map[string]func() error{
				"GetCallerIdentity": func() error { _, err := c.GetCallerIdentity(t.Context()); return err },
				"AssumeRole": func() error {
					_, err := c.AssumeRole(t.Context(), &vend.AssumeRoleInput{RoleARN: testRoleARN, RoleSessionName: "t-1-read", Duration: 900e9})
					return err
				},
			} {
				var ue *vend.UpstreamError
				if err := call(); !errors.As(err, &ue) || ue.NoCredentials != tc.noCredentials || ue.Code != tc.code {
					t.Fatalf("error %v (%+v), want NoCredentials=%v Code=%q", err, ue, tc.noCredentials, tc.code)
				}
			}
			if sent := len(fake.Calls()) - calls; tc.noCredentials != (sent == 0) {
				t.Errorf("STS saw %d requests", sent)
			}
		})
	}
}
