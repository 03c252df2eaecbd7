package jsonscan

import (
	"encoding/json"
	"testing"
)

// TestTokens: each reader accepts exactly the tokens encoding/json accepts
// as a whole document, and ends where the token ends.
func TestTokens(t *testing.T) {
	readers := map[byte]func([]byte, int) (int, error){
		'"': String,
		't': func(d []byte, i int) (int, error) { return Literal(d, i, "true") },
		'f': func(d []byte, i int) (int, error) { return Literal(d, i, "false") },
		'n': func(d []byte, i int) (int, error) { return Literal(d, i, "null") },
	}
	for _, tok := range []string{
		`""`, `"a"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`, "\"\xff\"", `"\q"`, `"\u12"`, `"\u12g4"`, "\"\x01\"", `"abc`,
		`0`, `-0`, `12`, `-1.5e+10`, `1E-3`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `0x1`,
		`true`, `false`, `null`, `tru`, `nul`,
	} {
		t.Run(tok, func(t *testing.T) {
			read, ok := readers[tok[0]]
			if !ok {
				read = Number
			}
			end, err := read([]byte(tok), 0)
			whole := err == nil && end == len(tok)
			if valid := json.Valid([]byte(tok)); whole != valid {
				t.Errorf("read to %d, %v; encoding/json: valid %v", end, err, valid)
			}
		})
	}
}

func TestUnquote(t *testing.T) {
	for _, lit := range []string{`""`, `"plain"`, `"é"`, `"\u00e9"`, `"a\"b"`, "\"\xff\xfe\"", `"\ud800"`, `"\uD83D\uDE00"`} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		if got, err := Unquote([]byte(lit)); err != nil || got != want {
			t.Errorf("Unquote(%s) = %q, %v; encoding/json: %q", lit, got, err, want)
		}
	}
	if !Plain([]byte("é")) || Plain([]byte(`a\n`)) || Plain([]byte("\xff")) {
		t.Error("Plain: a text with no escape and valid UTF-8 is its own text, and only that")
	}
}

func TestSpace(t *testing.T) {
	if got := Space([]byte(" \t\r\n x"), 0); got != 5 {
		t.Errorf("Space = %d, want 5", got)
	}
	if got := Space([]byte("\v"), 0); got != 0 {
		t.Errorf("vertical tab is not JSON white space: Space = %d", got)
	}
}
