package jsondup

import (
	"bytes"
	"io"

	"github.com/tvmkit/tvm/internal/jsonscan"
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
// read, before the colon after it. It is a single pass over data, with
// jsonscan's grammar, that allocates two small buffers and nothing more for
// objects of up to linearNames members whose names need no unescaping (a
// JWT header and payload, a request body): it runs on every token the
// broker verifies.
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

// first reads one value. Each turn of the loop reads a value; after a
// scalar or a closed container, afterValue reads up to the next value.
func (s *scanner) first() (found bool, err error) {
	if s.space() == len(s.data) {
		return false, io.EOF
	}
	for {
		if s.space() == len(s.data) {
			return false, jsonscan.ErrUnexpectedEnd
		}
		switch s.data[s.pos] {
		case '{':
			s.pos++
			s.stack = append(s.stack, frame{object: true, start: len(s.names)})
			if s.space() < len(s.data) && s.data[s.pos] == '}' {
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
			if s.space() < len(s.data) && s.data[s.pos] == ']' {
				s.pos++
				s.pop()
				break
			}
			continue
		default:
			if err := s.scalar(); err != nil {
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
		if s.space() == len(s.data) {
			return false, false, jsonscan.ErrUnexpectedEnd
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
			return false, false, jsonscan.SyntaxError(s.data, s.pos, "after object key:value pair or array element")
		}
	}
}

// member reads a member's name and checks it against the innermost
// object's names: found is true, and s.dup the name, when it repeats one.
// Otherwise it reads the colon after the name.
func (s *scanner) member() (found bool, err error) {
	if s.space() == len(s.data) {
		return false, jsonscan.ErrUnexpectedEnd
	}
	if s.data[s.pos] != '"' {
		return false, jsonscan.SyntaxError(s.data, s.pos, "looking for beginning of object key string")
	}
	start := s.pos
	end, err := jsonscan.String(s.data, start)
	if err != nil {
		return false, err
	}
	s.pos = end
	name := s.data[start+1 : end-1]
	if !jsonscan.Plain(name) {
		// Decoded as encoding/json decodes it: escapes, and invalid UTF-8
		// as U+FFFD.
		text, err := jsonscan.Unquote(s.data[start:end])
		if err != nil {
			return false, err
		}
		name = []byte(text)
	}
	if s.seen(name) {
		s.dup = string(name)
		return true, nil
	}
	if s.space() == len(s.data) {
		return false, jsonscan.ErrUnexpectedEnd
	}
	if s.data[s.pos] != ':' {
		return false, jsonscan.SyntaxError(s.data, s.pos, "after object key")
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

// space moves past JSON white space and returns the position.
func (s *scanner) space() int {
	s.pos = jsonscan.Space(s.data, s.pos)
	return s.pos
}

// scalar reads a string, number or literal at s.pos.
func (s *scanner) scalar() (err error) {
	switch s.data[s.pos] {
	case '"':
		s.pos, err = jsonscan.String(s.data, s.pos)
	case 't':
		s.pos, err = jsonscan.Literal(s.data, s.pos, "true")
	case 'f':
		s.pos, err = jsonscan.Literal(s.data, s.pos, "false")
	case 'n':
		s.pos, err = jsonscan.Literal(s.data, s.pos, "null")
	default:
		s.pos, err = jsonscan.Number(s.data, s.pos)
	}
	return err
}
