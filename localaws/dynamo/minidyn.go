package dynamo

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/truora/minidyn/server"
)

// minidynBackend is the handler NewMinidynBackend returns.
type minidynBackend struct {
	mu     sync.Mutex
	srv    *server.Server
	tables map[string]struct{}
}

// NewMinidynBackend returns an in-process DynamoDB backend: the server of
// github.com/truora/minidyn v0.8.2, all data in memory. The gateway fixes
// the gaps it can see in responses (TableStatus, ARNs, counts, ...); this
// handler fixes those it cannot:
//
//   - minidyn has no ListTables; the backend answers it (with
//     ExclusiveStartTableName, Limit and LastEvaluatedTableName) from the set
//     of tables created and deleted through it, which is exact because
//     minidyn's tables can only be created through this handler.
//   - minidyn ignores a Query's legacy KeyConditions and answers with no
//     items; the backend rewrites them into the equivalent
//     KeyConditionExpression.
//   - minidyn answers operations it does not implement (DescribeTimeToLive,
//     DescribeLimits, ...) with a text/plain "unsupported operation"; the
//     backend turns that into DynamoDB's JSON UnknownOperationException.
//
// minidyn's table operations (CreateTable, DescribeTable, ...) use its table
// map without its lock, so this handler serializes requests with a mutex
// (minidyn serializes its data operations on one lock anyway). The handler
// is safe for concurrent use.
func NewMinidynBackend() http.Handler {
	return &minidynBackend{srv: server.NewServer(), tables: map[string]struct{}{}}
}

func (b *minidynBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		WriteError(w, errSerialization("could not read the request body"))
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)

	b.mu.Lock()
	defer b.mu.Unlock()

	if op == "ListTables" {
		b.listTables(w, body)
		return
	}
	if op == "Query" {
		translated, err := translateKeyConditions(body)
		if err != nil {
			WriteError(w, err)
			return
		}
		body = translated
	}
	in := r.Clone(r.Context())
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	rec := newResponseBuffer()
	b.srv.ServeHTTP(rec, in)

	if rec.code() == http.StatusOK {
		switch op {
		case "CreateTable":
			if t, err := tableNameOf(body); err == nil {
				b.tables[t] = struct{}{}
			}
		case "DeleteTable":
			if t, err := tableNameOf(body); err == nil {
				delete(b.tables, t)
			}
		}
	}
	if rec.code() == http.StatusBadRequest && strings.HasPrefix(rec.header.Get("Content-Type"), "text/plain") {
		WriteError(w, &APIError{Status: http.StatusBadRequest, Code: CodeUnknownOperation,
			Message: "the minidyn backend does not support " + op})
		return
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code())
	_, _ = w.Write(rec.body.Bytes())
}

const maxListTablesLimit = 100

// listTables implements ListTables (ExclusiveStartTableName, Limit 1..100,
// LastEvaluatedTableName) over the tracked table names.
func (b *minidynBackend) listTables(w http.ResponseWriter, body []byte) {
	var in struct {
		ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
		Limit                   *int   `json:"Limit"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			WriteError(w, errSerialization(err.Error()))
			return
		}
	}
	limit := maxListTablesLimit
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > maxListTablesLimit {
			WriteError(w, errValidation("1 validation error detected: Value at 'limit' failed to satisfy constraint: "+
				"Member must have value less than or equal to 100 and greater than or equal to 1"))
			return
		}
		limit = *in.Limit
	}
	names := make([]string, 0, len(b.tables))
	for t := range b.tables {
		if t > in.ExclusiveStartTableName {
			names = append(names, t)
		}
	}
	slices.Sort(names)
	out := struct {
		TableNames             []string `json:"TableNames"`
		LastEvaluatedTableName string   `json:"LastEvaluatedTableName,omitempty"`
	}{TableNames: names}
	if len(names) > limit {
		out.TableNames = names[:limit]
		out.LastEvaluatedTableName = names[limit-1]
	}
	resp, ok := encodeJSON(out)
	if !ok {
		WriteError(w, errInternal())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// legacyKeyOps maps the legacy ComparisonOperators allowed in KeyConditions
// to a key-condition expression over name placeholder n and value
// placeholders v.
var legacyKeyOps = map[string]struct {
	args   int
	render func(n string, v []string) string
}{
	"EQ":          {1, func(n string, v []string) string { return n + " = " + v[0] }},
	"LT":          {1, func(n string, v []string) string { return n + " < " + v[0] }},
	"LE":          {1, func(n string, v []string) string { return n + " <= " + v[0] }},
	"GT":          {1, func(n string, v []string) string { return n + " > " + v[0] }},
	"GE":          {1, func(n string, v []string) string { return n + " >= " + v[0] }},
	"BEGINS_WITH": {1, func(n string, v []string) string { return "begins_with(" + n + ", " + v[0] + ")" }},
	"BETWEEN":     {2, func(n string, v []string) string { return n + " BETWEEN " + v[0] + " AND " + v[1] }},
}

// expressionParams are the Query parameters DynamoDB refuses to combine
// with the legacy KeyConditions.
var expressionParams = []string{"KeyConditionExpression", "FilterExpression", "ProjectionExpression",
	"ExpressionAttributeNames", "ExpressionAttributeValues"}

// translateKeyConditions rewrites a Query body's legacy KeyConditions into
// the equivalent KeyConditionExpression with its own placeholders, which
// minidyn evaluates. Bodies without KeyConditions are returned unchanged.
func translateKeyConditions(body []byte) ([]byte, *APIError) {
	var req map[string]json.RawMessage
	if json.Unmarshal(body, &req) != nil || missing(req["KeyConditions"]) {
		return body, nil
	}
	var used []string
	for _, p := range expressionParams {
		if !missing(req[p]) {
			used = append(used, p)
		}
	}
	if len(used) > 0 {
		return nil, errValidation("Can not use both expression and non-expression parameters in the same request: " +
			"Non-expression parameters: {KeyConditions} Expression parameters: {" + strings.Join(used, ", ") + "}")
	}
	var conds map[string]struct {
		ComparisonOperator string            `json:"ComparisonOperator"`
		AttributeValueList []json.RawMessage `json:"AttributeValueList"`
	}
	if err := json.Unmarshal(req["KeyConditions"], &conds); err != nil {
		return nil, errSerialization("KeyConditions: " + err.Error())
	}
	attrs := slices.Sorted(maps.Keys(conds))
	names := map[string]string{}
	values := map[string]json.RawMessage{}
	parts := make([]string, 0, len(attrs))
	for i, a := range attrs {
		c := conds[a]
		op, ok := legacyKeyOps[c.ComparisonOperator]
		if !ok {
			return nil, errValidation("Unsupported operator on KeyCondition: " + c.ComparisonOperator)
		}
		if len(c.AttributeValueList) != op.args {
			return nil, errValidation("One or more parameter values were invalid: Invalid number of argument(s) for the " +
				c.ComparisonOperator + " ComparisonOperator")
		}
		n := "#k" + strconv.Itoa(i)
		names[n] = a
		vs := make([]string, len(c.AttributeValueList))
		for j, av := range c.AttributeValueList {
			vs[j] = ":k" + strconv.Itoa(i) + "_" + strconv.Itoa(j)
			values[vs[j]] = av
		}
		parts = append(parts, op.render(n, vs))
	}
	delete(req, "KeyConditions")
	expr, _ := json.Marshal(strings.Join(parts, " AND ")) // strings always marshal
	req["KeyConditionExpression"] = expr
	var ok bool
	if req["ExpressionAttributeNames"], ok = encodeJSON(names); !ok {
		return nil, errInternal()
	}
	if req["ExpressionAttributeValues"], ok = encodeJSON(values); !ok {
		return nil, errInternal()
	}
	out, ok := encodeJSON(req)
	if !ok {
		return nil, errInternal()
	}
	return out, nil
}
