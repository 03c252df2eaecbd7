package s3

import (
	"bytes"
	"encoding/xml"
	"net/url"
)

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
