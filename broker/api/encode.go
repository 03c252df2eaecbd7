package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tvmkit/tvm/broker/vend"
)

// Header values every JSON answer carries. They are assigned to the header
// map as shared slices (net/http and Echo only read them, and a later Set
// or Add replaces or reallocates the slice): one allocation less per header
// and answer.
var (
	headerJSON    = []string{contentTypeJSON}
	headerNoStore = []string{"no-store"}
	headerNoCache = []string{"no-cache"}
)

// bodyPool holds the buffers the 200 answers are encoded into.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeCredentials writes the 200 answer of /v1/credentials: the
// credentialsResponse of creds, encoded by appendCredentials (byte for byte
// what encoding/json makes of it, without reflection), with the headers of
// writeJSON and Pragma: no-cache.
func writeCredentials(c echo.Context, creds *vend.Credentials) error {
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body := appendCredentials((*bp)[:0], creds)
	*bp = body
	h := c.Response().Header()
	h[echo.HeaderContentType] = headerJSON
	h[echo.HeaderCacheControl] = headerNoStore
	h["Pragma"] = headerNoCache
	h[echo.HeaderContentLength] = []string{strconv.Itoa(len(body))}
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err := c.Response().Write(body) // copied into the connection's buffer
	return err
}

// appendCredentials appends the JSON of credentialsResponse for creds to b,
// exactly as json.Marshal encodes it (TestAppendCredentialsMatchesJSON).
func appendCredentials(b []byte, creds *vend.Credentials) []byte {
	b = append(b, `{"Version":1`...)
	b = appendMember(b, `,"AccessKeyId":`, creds.AccessKeyID)
	b = appendMember(b, `,"SecretAccessKey":`, creds.SecretAccessKey)
	b = appendMember(b, `,"SessionToken":`, creds.SessionToken)
	b = appendMember(b, `,"Token":`, creds.SessionToken)
	b = append(b, `,"Expiration":"`...)
	b = creds.Expiration.UTC().Truncate(time.Second).AppendFormat(b, time.RFC3339)
	b = append(b, '"')
	if creds.AccountID != "" {
		b = appendMember(b, `,"AccountId":`, creds.AccountID)
	}
	b = appendMember(b, `,"Tenant":`, creds.Tenant)
	b = appendMember(b, `,"Profile":`, creds.Profile)
	return append(b, '}')
}

// appendMember appends the member prefix (`,"Name":`) and s as a JSON
// string.
func appendMember(b []byte, prefix, s string) []byte {
	return appendJSONString(append(b, prefix...), s)
}

// appendJSONString appends s as a JSON string, as encoding/json writes it:
// printable ASCII other than '"', '\\', '<', '>' and '&' is copied (the
// case of every credential), anything else goes through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\' || ch == '<' || ch == '>' || ch == '&' {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
