package localaws

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestS3PresignedAuthErrors: a presigned URL whose X-Amz-* parameters are
// wrong is answered with S3's AuthorizationQueryParametersError (400), as
// S3 does ("Error parsing the X-Amz-Credential parameter; the region ... is
// wrong"), not with the header form's AuthorizationHeaderMalformed.
func TestS3PresignedAuthErrors(t *testing.T) {
	st := startS3Stack(t, false)
	seedS3(t, st.client(adminKey, adminSecret, ""))
	get := func(c *s3.Client, expires time.Duration) (int, string) {
		t.Helper()
		req, err := s3.NewPresignClient(c).PresignGetObject(context.Background(),
			&s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("tenants/1/a.txt")}, s3.WithPresignExpires(expires))
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var e struct{ Code string }
		_ = xml.Unmarshal(body, &e)
		return resp.StatusCode, e.Code
	}
	if status, code := get(st.client(adminKey, adminSecret, ""), time.Minute); status != http.StatusOK {
		t.Fatalf("valid presigned URL: %d %s", status, code)
	}
	wrongRegion := s3.NewFromConfig(st.cfg, func(o *s3.Options) {
		o.Region = "eu-west-1"
		o.Credentials = st.client(adminKey, adminSecret, "").Options().Credentials
	})
	if status, code := get(wrongRegion, time.Minute); status != http.StatusBadRequest || code != "AuthorizationQueryParametersError" {
		t.Errorf("presigned for eu-west-1: %d %s", status, code)
	}
}
