package paginate

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// pager serves pages of ints; fail, when set, is the error of the page
// after the last.
type pager struct {
	pages [][]int
	fail  error
	next  int
}

type options struct{}

func (p *pager) HasMorePages() bool {
	return p.next < len(p.pages) || (p.fail != nil && p.next == len(p.pages))
}

func (p *pager) NextPage(context.Context, ...func(*options)) ([]int, error) {
	if p.next == len(p.pages) {
		p.next++
		return nil, p.fail
	}
	p.next++
	return p.pages[p.next-1], nil
}

func TestAll(t *testing.T) {
	boom := errors.New("throttled")
	for name, tc := range map[string]struct {
		p       *pager
		want    []int
		wantErr error
	}{
		"no pages":    {p: &pager{}},
		"pages":       {p: &pager{pages: [][]int{{1, 2}, {}, {3}}}, want: []int{1, 2, 3}},
		"error":       {p: &pager{pages: [][]int{{1}}, fail: boom}, wantErr: boom},
		"first error": {p: &pager{fail: boom}, wantErr: boom},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := All(context.Background(), tc.p, func(page []int) []int { return page })
			if !errors.Is(err, tc.wantErr) || (err != nil && got != nil) {
				t.Fatalf("All = %v, %v; want error %v", got, err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("All = %v, want %v", got, tc.want)
			}
		})
	}
}
