package s3

import (
	"bytes"
	"encoding/xml"
	"net/url"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// listingBackend is s3mem with S3's ListObjects semantics when a delimiter
// is given. gofakes3 v1.2.0 (Prefix.Match) strips leading delimiter
// characters — strings.TrimLeft, a character set — from the key and the
// prefix before comparing them, so prefix tenants/1/ with delimiter
// "tenas/1" matched every key of the bucket and returned other tenants'
// key names as common prefixes, and a key /tenants/1/x matched prefix
// tenants/1/ with delimiter "/"; it also repeats a common prefix on the
// next page. S3 lists exactly the keys that start with the prefix, each
// rolled up to a common prefix at the first delimiter after the prefix.
type listingBackend struct{ *s3mem.Backend }

// ListBucket lists the keys of bucket name that start with the prefix (all
// keys without one); with a delimiter, a key holding the delimiter after
// the prefix is rolled up into the common prefix ending at its first
// occurrence, which counts once towards MaxKeys. Entries (keys and common
// prefixes) come in key order after page.Marker; a common prefix equal to
// the marker is skipped with all its keys. NextMarker is the last entry
// returned.
func (b listingBackend) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if prefix == nil || !prefix.HasDelimiter || prefix.Delimiter == "" {
		return b.Backend.ListBucket(name, prefix, page) // plain strings.HasPrefix: as S3
	}
	p := ""
	if prefix.HasPrefix {
		p = prefix.Prefix
	}
	all, err := b.Backend.ListBucket(name, &gofakes3.Prefix{HasPrefix: p != "", Prefix: p}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, err
	}
	out := gofakes3.NewObjectList()
	var count int64
	for _, c := range all.Contents {
		if !strings.HasPrefix(c.Key, p) {
			continue // the backend's plain prefix match already holds; never list outside the prefix
		}
		entry, rolled := c.Key, false
		if i := strings.Index(c.Key[len(p):], prefix.Delimiter); i >= 0 {
			entry, rolled = c.Key[:len(p)+i+len(prefix.Delimiter)], true
		}
		switch {
		case page.HasMarker && (c.Key <= page.Marker || entry == page.Marker):
			continue
		case rolled && len(out.CommonPrefixes) > 0 && out.CommonPrefixes[len(out.CommonPrefixes)-1].Prefix == entry:
			continue
		case page.MaxKeys > 0 && count == page.MaxKeys:
			out.IsTruncated = true
			return out, nil
		}
		if rolled {
			out.AddPrefix(entry)
		} else {
			out.Add(c)
		}
		out.NextMarker = entry
		count++
	}
	return out, nil
}

// listingElements are the elements S3 URL-encodes in list responses when
// the request says encoding-type=url.
var listingElements = map[string]bool{"Key": true, "Prefix": true, "Delimiter": true, "Marker": true, "NextMarker": true,
	"StartAfter": true, "KeyMarker": true, "NextKeyMarker": true}

// encodeListing rewrites a list response for encoding-type=url, which
// gofakes3 ignores: the values of listingElements are URL-encoded and
// <EncodingType>url</EncodingType> is added to the root element.
func encodeListing(body []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var out bytes.Buffer
	enc := xml.NewEncoder(&out)
	depth, current := 0, ""
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			current = t.Name.Local
			t.Name.Space, t.Attr = "", nil
			if depth == 1 {
				t.Attr = []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: s3Namespace}}
			}
			tok = t
		case xml.EndElement:
			if depth == 1 {
				et := xml.StartElement{Name: xml.Name{Local: "EncodingType"}}
				if err := enc.EncodeElement("url", et); err != nil {
					return nil, err
				}
			}
			depth--
			current = ""
			t.Name.Space = ""
			tok = t
		case xml.CharData:
			if listingElements[current] {
				tok = xml.CharData(url.QueryEscape(string(t)))
			}
		case xml.ProcInst:
			continue
		}
		if err := enc.EncodeToken(tok); err != nil {
			return nil, err
		}
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), out.Bytes()...), nil
}
