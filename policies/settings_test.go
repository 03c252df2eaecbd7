package policies_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/tvmkit/tvm/policies"
)

// TestParseList: the list rules every target's settings share — at least
// one item, each valid, each once (compared parsed: "01" repeats "1") —
// with every problem reported under its field.
func TestParseList(t *testing.T) {
	parse := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, errors.New("not a number")
		}
		return n, nil
	}
	for name, tc := range map[string]struct {
		items    []string
		want     []int
		problems string
	}{
		"valid":     {items: []string{"1", "2"}, want: []int{1, 2}},
		"empty":     {problems: "nums: at least one num is required"},
		"invalid":   {items: []string{"1", "x", "3"}, want: []int{1, 3}, problems: "nums[1]: not a number"},
		"duplicate": {items: []string{"1", "01", "x", "x"}, want: []int{1}, problems: "nums[1]: duplicate num\nnums[2]: not a number\nnums[3]: not a number"},
	} {
		t.Run(name, func(t *testing.T) {
			var p policies.SettingProblems
			got := policies.ParseList(&p, "nums", "num", tc.items, parse)
			if !slices.Equal(got, tc.want) {
				t.Errorf("values %v, want %v", got, tc.want)
			}
			errText := ""
			if err := p.Err(); err != nil {
				errText = err.Error()
				var se *policies.SettingError
				if !errors.As(err, &se) {
					t.Errorf("problems are not *SettingError: %T", err)
				}
			}
			if errText != tc.problems {
				t.Errorf("problems %q, want %q", errText, tc.problems)
			}
		})
	}
}
