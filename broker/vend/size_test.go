package vend

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
)

// TestSessionSizeReported: the size shares STS answers reach the Observer
// and the vended Credentials, absent fields are SizeNotReported, a share
// above SizeWarnPercent is logged as a warning (and only then), and a
// cache hit reports nothing new.
func TestSessionSizeReported(t *testing.T) {
	for name, tc := range map[string]struct {
		packed, token *int32
		want          SessionSize
		warn          bool
	}{
		"neither":                {want: SessionSize{SizeNotReported, SizeNotReported}},
		"packed (tvm-local)":     {packed: aws.Int32(21), want: SessionSize{21, SizeNotReported}},
		"utilization (AWS 2026)": {token: aws.Int32(30), want: SessionSize{SizeNotReported, 30}},
		"both":                   {packed: aws.Int32(7), token: aws.Int32(5), want: SessionSize{7, 5}},
		"at the threshold":       {packed: aws.Int32(80), want: SessionSize{80, SizeNotReported}},
		"packed above 80":        {packed: aws.Int32(81), token: aws.Int32(5), want: SessionSize{81, 5}, warn: true},
		"utilization above 80":   {token: aws.Int32(97), want: SessionSize{SizeNotReported, 97}, warn: true},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.sts.respond = func(_ context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
				out := h.sts.success(n, in)
				out.Size = SessionSize{PackedPolicyPercent: orNotReported(tc.packed), TokenUtilizationPercent: orNotReported(tc.token)}
				return out, nil
			}
			for range 2 { // the second vend is a cache hit: no new report
				c, err := h.v.Vend(context.Background(), readReq("1"))
				if err != nil {
					t.Fatal(err)
				}
				if c.Size != tc.want {
					t.Errorf("Credentials.Size = %+v, want %+v", c.Size, tc.want)
				}
			}
			if diff := cmp.Diff([]SessionSize{tc.want}, h.obs.sessionSizes()); diff != "" {
				t.Errorf("observed sizes (-want +got):\n%s", diff)
			}
			logs := h.logs.String()
			warned := strings.Contains(logs, `"level":"WARN","msg":"the session policy and tags use most of STS's size limit`)
			if warned != tc.warn {
				t.Errorf("warning logged = %v, want %v:\n%s", warned, tc.warn, logs)
			}
			if tc.warn && !strings.Contains(logs, `"profile":"read"`) {
				t.Errorf("the warning does not name the profile:\n%s", logs)
			}
		})
	}
}

// orNotReported is the share STS answered, or SizeNotReported for none.
func orNotReported(p *int32) int {
	if p == nil {
		return SizeNotReported
	}
	return int(*p)
}
