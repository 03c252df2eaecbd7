package s3

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxDeleteObjects is S3's limit on the keys of one DeleteObjects request.
const MaxDeleteObjects = 1000

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

type objectID struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

// objectEntry is one <Object> of a DeleteObjects request as sent; its
// conditions (ETag, LastModifiedTime, Size: S3's conditional deletes) are
// read only to refuse them, gofakes3 would delete unconditionally.
type objectEntry struct {
	objectID
	ETag             *string `xml:"ETag"`
	LastModifiedTime *string `xml:"LastModifiedTime"`
	Size             *string `xml:"Size"`
}

// deleteInput is a DeleteObjects request body as sent.
type deleteInput struct {
	XMLName xml.Name      `xml:"Delete"`
	Quiet   bool          `xml:"Quiet"`
	Objects []objectEntry `xml:"Object"`
}

type deleteRequest struct {
	XMLName xml.Name   `xml:"Delete"`
	Xmlns   string     `xml:"xmlns,attr,omitempty"`
	Quiet   bool       `xml:"Quiet"`
	Objects []objectID `xml:"Object"`
}

type deleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

type deleteResult struct {
	XMLName xml.Name      `xml:"DeleteResult"`
	Xmlns   string        `xml:"xmlns,attr,omitempty"`
	Deleted []objectID    `xml:"Deleted"`
	Errors  []deleteError `xml:"Error"`
}

func malformedXML() *Error {
	return newError(http.StatusBadRequest, CodeMalformedXML,
		"The XML you provided was not well-formed or did not validate against our published schema")
}

// deleteObjects authorizes DeleteObjects key by key, as S3 does: only the
// allowed keys reach the backend, each denied key is reported in the 200
// answer as <Error><Code>AccessDenied</Code></Error>. Like S3 it requires
// Content-MD5 or a flexible checksum (readBody verified it).
func (g *Gateway) deleteObjects(w http.ResponseWriter, r *http.Request, op *Op, caller *Caller, base map[string][]string, body []byte) *Error {
	if !integrityChecked(r.Header) {
		return invalidRequest("Missing required header for this request: Content-MD5")
	}
	var in deleteInput
	if err := xml.Unmarshal(body, &in); err != nil || len(in.Objects) == 0 || len(in.Objects) > MaxDeleteObjects {
		return malformedXML()
	}
	allowed := deleteRequest{Xmlns: s3Namespace, Quiet: in.Quiet}
	var denied []deleteError
	for _, o := range in.Objects {
		switch {
		case o.Key == "" || len(o.Key) > MaxKeyBytes:
			return malformedXML()
		case o.VersionID != "":
			// Without versioning gofakes3 would delete the current object.
			return notImplemented("deleting object versions (DeleteObjects with VersionId)")
		case o.ETag != nil || o.LastModifiedTime != nil || o.Size != nil:
			return notImplemented("conditional deletes (DeleteObjects with ETag, LastModifiedTime or Size)")
		}
		if d, _ := g.authorize(r.Context(), caller, op, DeleteChecks(op.Bucket, o.Key, o.VersionID), base); d.Allowed() {
			allowed.Objects = append(allowed.Objects, o.objectID)
		} else {
			denied = append(denied, deleteError{Key: o.Key, VersionID: o.VersionID, Code: CodeAccessDenied, Message: "Access Denied"})
		}
	}
	out := deleteResult{Xmlns: s3Namespace}
	if len(allowed.Objects) == 0 {
		if !g.bucketExists(r.Context(), op.Bucket) {
			e := newError(http.StatusNotFound, CodeNoSuchBucket, "The specified bucket does not exist")
			e.Resource = op.Bucket
			return e
		}
	} else {
		fwd, err := xml.Marshal(allowed)
		if err != nil {
			return internalError()
		}
		rec := newRecorder()
		g.backend.ServeHTTP(rec, backendRequest(r, op, fwd))
		if rec.status != http.StatusOK {
			return g.relay(w, rec)
		}
		if err := xml.Unmarshal(rec.body.Bytes(), &out); err != nil {
			return internalError()
		}
		out.XMLName, out.Xmlns = xml.Name{}, s3Namespace
	}
	out.Errors = append(out.Errors, denied...)
	return writeXML(w, http.StatusOK, out)
}

// relay writes a buffered backend response unchanged.
func (g *Gateway) relay(w http.ResponseWriter, rec *recorder) *Error {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
	return nil
}

func writeXML(w http.ResponseWriter, status int, v any) *Error {
	b, err := xml.Marshal(v)
	if err != nil {
		return internalError()
	}
	body := append([]byte(xml.Header), b...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// uploadPartCopy implements UploadPartCopy, which gofakes3 lacks, from two
// backend calls: GetObject of the source (x-amz-copy-source-range as
// Range) and UploadPart of its bytes. Both objects were authorized. The
// part is bounded by the gateway's body limit, like an uploaded part.
func (g *Gateway) uploadPartCopy(w http.ResponseWriter, r *http.Request, op *Op) *Error {
	src, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "/", nil)
	if err != nil {
		return internalError()
	}
	src.URL = &url.URL{Path: "/" + op.Copy.Bucket + "/" + op.Copy.Key}
	if rng := r.Header.Get("X-Amz-Copy-Source-Range"); rng != "" {
		src.Header.Set("Range", rng)
	}
	got := newRecorder()
	got.limit = g.maxBody
	g.backend.ServeHTTP(got, src)
	if got.over {
		return entityTooLarge(g.maxBody)
	}
	if got.status != http.StatusOK && got.status != http.StatusPartialContent {
		return g.relay(w, got)
	}
	part := backendRequest(r, op, got.body.Bytes())
	part.Header.Del("X-Amz-Copy-Source")
	put := newRecorder()
	g.backend.ServeHTTP(put, part)
	if put.status != http.StatusOK {
		return g.relay(w, put)
	}
	return writeXML(w, http.StatusOK, struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		Xmlns        string   `xml:"xmlns,attr"`
		ETag         string   `xml:"ETag"`
		LastModified string   `xml:"LastModified"`
	}{Xmlns: s3Namespace, ETag: put.header.Get("ETag"), LastModified: time.Now().UTC().Format("2006-01-02T15:04:05.000Z")})
}
