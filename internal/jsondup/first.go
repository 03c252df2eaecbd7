package jsondup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// First returns the first member name that repeats within one object of
// data (one JSON value), at any depth, spelled as it comes the second time,
// and found true; found is false when no name repeats. (The name can be "":
// {"":1,"":2}.) It reads data up to that member only: a syntax error before
// it is returned as err, with found false. Data after the value is not
// read.
//
// It answers exactly as a walk with encoding/json's Decoder.Token would
// (FuzzFirstMatchesDecoder compares them): the same grammar, white space
// and string decoding, and a repeated name is reported as soon as it is
// read, before the colon after it. It is a single pass over data that
// allocates nothing on the way for objects of up to linearNames members
// whose names need no unescaping (a JWT header and payload, a request
// body): it runs on every token the broker verifies.
func First(data []byte, cmp Compare) (name string, found bool, err error) {
	var names [linearNames][]byte
	var frames [8]frame
	s := scanner{data: data, cmp: cmp, names: names[:0], stack: frames[:0]}
	found, err = s.first()
	return s.dup, found, err
}

// linearNames is how many names an object keeps in a list, searched
// linearly; a larger object keys them in a map.
const linearNames = 16

// frame is one open JSON object or array.
type frame struct {
	object bool
	start  int                 // len(scanner.names) when it opened: its names (an object's) follow
	set    map[string]struct{} // the object's names, exact or FoldName, once it has more than linearNames
}

type scanner struct {
	data  []byte
	pos   int
	cmp   Compare
	names [][]byte // the names of the open objects, innermost last
	stack []frame
	dup   string // the repeated name, once found
}

var errEOF = io.ErrUnexpectedEOF

// first reads one value. Each turn of the loop reads a value; after a
// scalar or a closed container, afterValue reads up to the next value.
func (s *scanner) first() (found bool, err error) {
	if s.skipSpace() == len(s.data) {
		return false, io.EOF
	}
	for {
		if s.skipSpace() == len(s.data) {
			return false, errEOF
		}
		switch c := s.data[s.pos]; c {
		case '{':
			s.pos++
			s.stack = append(s.stack, frame{object: true, start: len(s.names)})
			if s.skipSpace() < len(s.data) && s.data[s.pos] == '}' {
				s.pos++
				s.pop()
				break
			}
			if found, err := s.member(); found || err != nil {
				return found, err
			}
			continue
		case '[':
			s.pos++
			s.stack = append(s.stack, frame{start: len(s.names)})
			if s.skipSpace() < len(s.data) && s.data[s.pos] == ']' {
				s.pos++
				s.pop()
				break
			}
			continue
		case '"':
			if _, _, err := s.str(); err != nil {
				return false, err
			}
		case 't':
			if err := s.literal("true"); err != nil {
				return false, err
			}
		case 'f':
			if err := s.literal("false"); err != nil {
				return false, err
			}
		case 'n':
			if err := s.literal("null"); err != nil {
				return false, err
			}
		default:
			if err := s.number(); err != nil {
				return false, err
			}
		}
		if done, found, err := s.afterValue(); done || found || err != nil {
			return found, err
		}
	}
}

// afterValue reads past the end of a value: closing brackets, up to and
// including a comma and, in an object, the next member's name and colon.
// done is true when the top-level value ended.
func (s *scanner) afterValue() (done, found bool, err error) {
	for {
		if len(s.stack) == 0 {
			return true, false, nil
		}
		if s.skipSpace() == len(s.data) {
			return false, false, errEOF
		}
		top := &s.stack[len(s.stack)-1]
		switch c := s.data[s.pos]; {
		case c == ',':
			s.pos++
			if top.object {
				found, err := s.member()
				return false, found, err
			}
			return false, false, nil
		case c == '}' && top.object, c == ']' && !top.object:
			s.pos++
			s.pop()
		default:
			return false, false, s.syntax("after a value")
		}
	}
}

// member reads a member's name and checks it against the innermost
// object's names: found is true, and s.dup the name, when it repeats one.
// Otherwise it reads the colon after the name.
func (s *scanner) member() (found bool, err error) {
	if s.skipSpace() == len(s.data) {
		return false, errEOF
	}
	if s.data[s.pos] != '"' {
		return false, s.syntax("looking for a member name")
	}
	raw, escaped, err := s.str()
	if err != nil {
		return false, err
	}
	name := raw
	if escaped || !utf8.Valid(raw) {
		// Decoded as encoding/json decodes it: escapes, and invalid UTF-8
		// as U+FFFD.
		var text string
		if err := json.Unmarshal(s.data[s.pos-len(raw)-2:s.pos], &text); err != nil {
			return false, err
		}
		name = []byte(text)
	}
	if s.seen(name) {
		s.dup = string(name)
		return true, nil
	}
	if s.skipSpace() == len(s.data) {
		return false, errEOF
	}
	if s.data[s.pos] != ':' {
		return false, s.syntax("after a member name")
	}
	s.pos++
	return false, nil
}

// seen reports whether the innermost object already has name, and adds it.
func (s *scanner) seen(name []byte) bool {
	top := &s.stack[len(s.stack)-1]
	if top.set != nil {
		key := string(name)
		if s.cmp == Fold {
			key = FoldName(key)
		}
		if _, ok := top.set[key]; ok {
			return true
		}
		top.set[key] = struct{}{}
		return false
	}
	for _, n := range s.names[top.start:] {
		if s.same(n, name) {
			return true
		}
	}
	s.names = append(s.names, name)
	if len(s.names)-top.start > linearNames {
		top.set = make(map[string]struct{}, 2*linearNames)
		for _, n := range s.names[top.start:] {
			key := string(n)
			if s.cmp == Fold {
				key = FoldName(key)
			}
			top.set[key] = struct{}{}
		}
		s.names = s.names[:top.start]
	}
	return false
}

// same compares two names, both valid UTF-8. bytes.EqualFold is the
// equality FoldName canonicalizes: runes in one simple-folding orbit.
func (s *scanner) same(a, b []byte) bool {
	if s.cmp == Fold {
		return bytes.EqualFold(a, b)
	}
	return bytes.Equal(a, b)
}

func (s *scanner) pop() {
	s.names = s.names[:s.stack[len(s.stack)-1].start]
	s.stack = s.stack[:len(s.stack)-1]
}

// skipSpace moves past JSON white space and returns the position.
func (s *scanner) skipSpace() int {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return s.pos
		}
	}
	return s.pos
}

// str reads a string at s.pos and returns its raw bytes between the quotes
// and whether it has an escape. Control characters and malformed escapes
// are syntax errors; invalid UTF-8 is not (decoding replaces it).
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	s.pos++ // the opening quote
	start := s.pos
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c == '"':
			s.pos++
			return s.data[start : s.pos-1], escaped, nil
		case c == '\\':
			escaped = true
			if err := s.escape(); err != nil {
				return nil, false, err
			}
		case c < 0x20:
			return nil, false, s.syntax("in a string")
		default:
			s.pos++
		}
	}
	return nil, false, errEOF
}

// escape reads one escape sequence at s.pos.
func (s *scanner) escape() error {
	s.pos++ // the backslash
	if s.pos == len(s.data) {
		return errEOF
	}
	switch s.data[s.pos] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos++
		return nil
	case 'u':
		s.pos++
		for range 4 {
			if s.pos == len(s.data) {
				return errEOF
			}
			if !isHex(s.data[s.pos]) {
				return s.syntax("in a \\u escape")
			}
			s.pos++
		}
		return nil
	}
	return s.syntax("in a string escape")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// literal reads true, false or null at s.pos.
func (s *scanner) literal(word string) error {
	for i := range len(word) {
		if s.pos == len(s.data) {
			return errEOF
		}
		if s.data[s.pos] != word[i] {
			return s.syntax("in a literal")
		}
		s.pos++
	}
	return nil
}

// number reads a number at s.pos:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return s.endOrSyntax("looking for a value")
	}
	if s.peek() == '.' {
		s.pos++
		if err := s.someDigits(); err != nil {
			return err
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		return s.someDigits()
	}
	return nil
}

// someDigits reads one digit or more.
func (s *scanner) someDigits() error {
	if c := s.peek(); c < '0' || c > '9' {
		return s.endOrSyntax("in a number")
	}
	s.digits()
	return nil
}

func (s *scanner) digits() {
	for c := s.peek(); '0' <= c && c <= '9'; c = s.peek() {
		s.pos++
	}
}

// peek returns the byte at s.pos, or 0 at the end of data.
func (s *scanner) peek() byte {
	if s.pos == len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// endOrSyntax is the error for a missing byte: the end of data, or a
// syntax error.
func (s *scanner) endOrSyntax(where string) error {
	if s.pos == len(s.data) {
		return errEOF
	}
	return s.syntax(where)
}

// syntax is a syntax error at s.pos.
func (s *scanner) syntax(where string) error {
	return fmt.Errorf("invalid character %q %s at offset %d: %w", s.data[s.pos], where, s.pos, errSyntax)
}

var errSyntax = errors.New("JSON syntax error")
