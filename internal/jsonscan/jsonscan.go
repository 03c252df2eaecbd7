// Package jsonscan reads JSON's tokens in place, by offset into a byte
// slice, with encoding/json's grammar and string decoding: white space,
// strings (control characters and unknown escapes refused, invalid UTF-8
// accepted and decoded as U+FFFD), numbers and the three literals. It is
// the one home of that grammar for the project's single-pass JSON readers:
// the local DynamoDB gateway's request parser and jsondup's repeated-name
// check, both fuzzed against encoding/json.
//
// Each function takes data and the offset i where its token starts and
// returns the offset after it; none allocates unless it reports an error.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Space returns the offset of the first non-whitespace byte of data[i:],
// or len(data).
func Space(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// String validates the string literal at data[i] ('"') and returns the
// offset after its closing quote. Like encoding/json it refuses control
// characters and unknown escapes and accepts any other byte (invalid UTF-8
// is decoded as U+FFFD).
func String(data []byte, i int) (int, error) {
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return 0, SyntaxError(data, i, "in string literal")
		case c == '\\':
			i++
			if i >= len(data) {
				break
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 0; k < 4; k++ {
					if i++; i >= len(data) || !isHex(data[i]) {
						return 0, SyntaxError(data, i, "in \\u hexadecimal character escape")
					}
				}
			default:
				return 0, SyntaxError(data, i, "in string escape code")
			}
		}
	}
	return 0, ErrUnexpectedEnd
}

// Plain reports whether the body of a valid string literal (the bytes
// between its quotes) is its own text: no escape, valid UTF-8.
func Plain(body []byte) bool {
	return bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body)
}

// Unquote decodes a string literal (raw includes the quotes and is valid,
// as String checked). A Plain literal is its own text; any other is decoded
// by encoding/json, so escapes, surrogates and invalid UTF-8 read exactly
// as encoding/json reads them.
func Unquote(raw []byte) (string, error) {
	if body := raw[1 : len(raw)-1]; Plain(body) {
		return string(body), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// Number validates the number at data[i] (JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) and returns the offset
// after it.
func Number(data []byte, i int) (int, error) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && isDigit(data[i]):
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return 0, SyntaxError(data, i, "in numeric literal")
	}
	if i < len(data) && data[i] == '.' {
		if i++; i >= len(data) || !isDigit(data[i]) {
			return 0, SyntaxError(data, i, "after decimal point in numeric literal")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return 0, SyntaxError(data, i, "in exponent of numeric literal")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	return i, nil
}

// Literal checks that data[i:] starts with lit (true, false, null) and
// returns the offset after it.
func Literal(data []byte, i int, lit string) (int, error) {
	if !bytes.HasPrefix(data[i:], []byte(lit)) {
		return 0, SyntaxError(data, i, "in literal "+lit)
	}
	return i + len(lit), nil
}

// ErrUnexpectedEnd is the error for data that ends inside a value.
var ErrUnexpectedEnd = errors.New("unexpected end of JSON input")

// SyntaxError describes invalid JSON at data[i] (context says where, as
// encoding/json's messages do) without quoting more than the offending
// byte; ErrUnexpectedEnd at the end of data.
func SyntaxError(data []byte, i int, context string) error {
	if i >= len(data) {
		return ErrUnexpectedEnd
	}
	return fmt.Errorf("invalid character %q at offset %d %s", data[i], i, context)
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
