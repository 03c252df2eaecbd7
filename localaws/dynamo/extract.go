package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tvmkit/tvm/localaws/awsquery"
)

// TargetPrefix is the X-Amz-Target prefix of the DynamoDB JSON protocol.
const TargetPrefix = "DynamoDB_20120810."

// DynamoDB condition keys the gateway puts in request contexts.
const (
	KeyLeadingKeys            = "dynamodb:LeadingKeys"
	KeyAttributes             = "dynamodb:Attributes"
	KeySelect                 = "dynamodb:Select"
	KeyReturnValues           = "dynamodb:ReturnValues"
	KeyReturnConsumedCapacity = "dynamodb:ReturnConsumedCapacity"
	KeyEnclosingOperation     = "dynamodb:EnclosingOperation"
)

// Check is one authorization check DynamoDB performs for a request: the
// caller must be allowed Action on Resource with the condition keys of
// Context. A request is allowed only when every one of its checks is.
type Check struct {
	Action   string              // "dynamodb:<Action>"
	Resource string              // table ARN, index ARN or "*"
	Context  map[string][]string // DynamoDB condition keys of this check
}

// KeySchema names the key attributes of a table or index. SortKey is ""
// when there is none.
type KeySchema struct {
	PartitionKey string
	SortKey      string
}

// TableSchema is a table's key schema and the key schemas of its global and
// local secondary indexes by index name.
type TableSchema struct {
	KeySchema
	Indexes map[string]KeySchema
}

// SchemaLookup returns the key schema of a table; (nil, nil) means the
// table does not exist. Errors are returned to the client: they should be
// *APIError values.
type SchemaLookup func(table string) (*TableSchema, error)

// Extract builds the authorization checks DynamoDB performs for operation op
// (the part of X-Amz-Target after "DynamoDB_20120810.") with JSON body body,
// for resources in region and account. It is a pure function of its
// arguments and the schemas lookup returns.
//
// Item-level operations carry dynamodb:LeadingKeys, the partition-key values
// the request touches, found with the key schema of the table or, for a Query
// with IndexName, of the index. When lookup reports that the table (or
// index) does not exist the check carries no LeadingKeys: the backend
// rejects the request anyway, and a policy with the Null guard denies it
// first, as AWS authorizes before it looks for the table.
//
// Errors are *APIError values: UnknownOperationException for an operation
// the gateway does not authorize, SerializationException for malformed JSON,
// ValidationException when a value needed to build the context is missing or
// invalid.
func Extract(op string, body []byte, region, account string, lookup SchemaLookup) ([]Check, error) {
	checks, _, err := extract(op, body, region, account, lookup)
	return checks, err
}

// extract is Extract, also returning the parsed request: the gateway reads
// what it needs after forwarding from it, without parsing the body again.
func extract(op string, body []byte, region, account string, lookup SchemaLookup) ([]Check, *object, error) {
	h, ok := operations[op]
	if !ok {
		return nil, nil, errUnknownOperation()
	}
	req, err := parseObject(body, true)
	if err != nil {
		return nil, nil, errSerialization("Start of structure or map found where not expected: " + err.Error())
	}
	x := &extractor{region: region, account: account, lookup: lookup}
	checks, err := h(x, req)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			return nil, nil, apiErr
		}
		return nil, nil, errSerialization(err.Error())
	}
	return checks, req, nil
}

// Operations returns the operations the gateway authorizes, sorted.
func Operations() []string {
	ops := make([]string, 0, len(operations))
	for op := range operations {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

type opHandler func(x *extractor, req *object) ([]Check, error)

var operations = map[string]opHandler{
	"GetItem":            (*extractor).getItem,
	"PutItem":            (*extractor).putItem,
	"UpdateItem":         (*extractor).updateItem,
	"DeleteItem":         (*extractor).deleteItem,
	"Query":              (*extractor).query,
	"Scan":               (*extractor).scan,
	"BatchGetItem":       (*extractor).batchGetItem,
	"BatchWriteItem":     (*extractor).batchWriteItem,
	"TransactGetItems":   (*extractor).transactGetItems,
	"TransactWriteItems": (*extractor).transactWriteItems,
	"CreateTable":        tableOp("CreateTable"),
	"DeleteTable":        tableOp("DeleteTable"),
	"DescribeTable":      tableOp("DescribeTable"),
	"UpdateTable":        tableOp("UpdateTable"),
	"DescribeTimeToLive": tableOp("DescribeTimeToLive"),
	"UpdateTimeToLive":   tableOp("UpdateTimeToLive"),
	"ListTables":         globalOp("ListTables"),
	"DescribeLimits":     globalOp("DescribeLimits"),
}

type extractor struct {
	region, account string
	lookup          SchemaLookup
}

// isName reports whether s matches DynamoDB's pattern for table and index
// names, [a-zA-Z0-9_.-]{3,255}. Checking it before building an ARN keeps
// '/', ':' and wildcards out of resources. (A loop: it runs for every
// request, where a regular expression cost a noticeable share.)
func isName(s string) bool {
	if len(s) < 3 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

func (x *extractor) tableARN(table string) string {
	return "arn:aws:dynamodb:" + x.region + ":" + x.account + ":table/" + table
}

func validName(member, value string) error {
	if value == "" {
		return errValidation(fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(member)))
	}
	if !isName(value) {
		return errValidation(fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "+
			"Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255", awsquery.Clip(value, maxEchoedValue), lowerFirst(member)))
	}
	return nil
}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// tableName reads and validates member TableName.
func tableName(req *object) (string, error) {
	t, err := req.str("TableName")
	if err != nil {
		return "", err
	}
	return t, validName("TableName", t)
}

func (x *extractor) schema(table string) (*TableSchema, error) {
	if x.lookup == nil {
		return nil, nil
	}
	return x.lookup(table)
}

func tableOp(action string) opHandler {
	return func(x *extractor, req *object) ([]Check, error) {
		t, err := tableName(req)
		if err != nil {
			return nil, err
		}
		return []Check{{Action: "dynamodb:" + action, Resource: x.tableARN(t), Context: map[string][]string{}}}, nil
	}
}

func globalOp(action string) opHandler {
	return func(*extractor, *object) ([]Check, error) {
		return []Check{{Action: "dynamodb:" + action, Resource: "*", Context: map[string][]string{}}}, nil
	}
}

// strDefault reads a string member, returning def when it is absent.
func strDefault(req *object, member, def string) (string, error) {
	v, err := req.str(member)
	if err != nil || v != "" {
		return v, err
	}
	return def, nil
}

// itemKeyCheck builds the check of a single-item action whose key is in
// member keyMember (Key, or Item for PutItem).
func (x *extractor) itemKeyCheck(action string, req *object, keyMember string) (Check, *object, error) {
	t, err := tableName(req)
	if err != nil {
		return Check{}, nil, err
	}
	key, err := req.obj(keyMember, false)
	if err != nil {
		return Check{}, nil, err
	}
	if key == nil {
		return Check{}, nil, errValidation(fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(keyMember)))
	}
	c := Check{Action: "dynamodb:" + action, Resource: x.tableARN(t), Context: map[string][]string{}}
	s, err := x.schema(t)
	if err != nil {
		return Check{}, nil, err
	}
	if s != nil {
		v, err := partitionValue(key, s.PartitionKey)
		if err != nil {
			return Check{}, nil, err
		}
		c.Context[KeyLeadingKeys] = []string{v}
	}
	return c, key, nil
}

// partitionValue is the rendered partition-key value of an item or key map.
func partitionValue(key *object, pk string) (string, error) {
	av, err := key.get(pk)
	if err != nil {
		return "", err
	}
	if av == nil {
		return "", errValidation("The provided key element does not match the schema")
	}
	return keyValue(pk, av)
}

// readContext adds dynamodb:Select and dynamodb:Attributes for a read.
func readContext(c *Check, req *object, selectMember bool) error {
	attrs, err := projectedAttributes(req)
	if err != nil {
		return err
	}
	def := "ALL_ATTRIBUTES"
	if attrs != nil {
		def = "SPECIFIC_ATTRIBUTES"
		c.Context[KeyAttributes] = attrs
	}
	sel := def
	if selectMember {
		if sel, err = strDefault(req, "Select", def); err != nil {
			return err
		}
	}
	c.Context[KeySelect] = []string{sel}
	return nil
}

// DynamoDB's limits on what a request may name: an expression string is at
// most 4 KB, AttributesToGet at most 255 names. The gateway checks them
// before it splits either into names, so a 16 MB projection cannot cost it
// millions of names in memory and in the policy evaluation.
const (
	maxExpressionBytes = 4096
	maxAttributesToGet = 255
)

// expression reads the expression string in member name, at most
// maxExpressionBytes long.
func expression(req *object, name string) (string, error) {
	expr, err := req.str(name)
	if err == nil && len(expr) > maxExpressionBytes {
		err = errValidation(fmt.Sprintf("Invalid %s: Expression size has exceeded the maximum allowed size; expression size: %d", name, len(expr)))
	}
	return expr, err
}

// projectedAttributes returns the top-level attribute names named by
// ProjectionExpression or AttributesToGet (nil when neither is given).
func projectedAttributes(req *object) ([]string, error) {
	proj, err := expression(req, "ProjectionExpression")
	if err != nil {
		return nil, err
	}
	atg, err := req.strings("AttributesToGet", maxAttributesToGet)
	if errors.Is(err, errTooMany) {
		return nil, errValidation(fmt.Sprintf("1 validation error detected: Value at 'attributesToGet' failed to satisfy constraint: "+
			"Member must have length less than or equal to %d", maxAttributesToGet))
	}
	if err != nil {
		return nil, err
	}
	if proj != "" && atg != nil {
		return nil, errValidation("Can not use both expression and non-expression parameters in the same request: " +
			"Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}")
	}
	if atg != nil {
		return dedupe(atg), nil
	}
	if proj == "" {
		return nil, nil
	}
	names, err := req.stringMap("ExpressionAttributeNames")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, part := range strings.Split(proj, ",") {
		p := strings.TrimSpace(part)
		if i := strings.IndexAny(p, ".["); i >= 0 {
			p = strings.TrimSpace(p[:i])
		}
		if p == "" || strings.ContainsAny(p, " \t\r\n") {
			return nil, errValidation("Invalid ProjectionExpression: Syntax error; token: \"" + strings.TrimSpace(part) + "\"")
		}
		name, err := resolveName(p, names, "ProjectionExpression")
		if err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return dedupe(out), nil
}

// resolveName resolves a #placeholder through ExpressionAttributeNames.
func resolveName(token string, names map[string]string, expr string) (string, error) {
	if !strings.HasPrefix(token, "#") {
		return token, nil
	}
	n, ok := names[token]
	if !ok {
		return "", errValidation(fmt.Sprintf("Invalid %s: An expression attribute name used in the document path is not defined; attribute name: %s", expr, token))
	}
	return n, nil
}

// dedupe returns in without repeated values, in first-seen order. It
// remembers what it has seen in a set: a request of a few megabytes can hold
// hundreds of thousands of names or keys, and searching the output instead
// made one such request cost the gateway minutes of CPU.
func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]struct{}, len(in))
	for _, s := range in {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

func consumedCapacity(c *Check, req *object) error {
	v, err := strDefault(req, "ReturnConsumedCapacity", "NONE")
	c.Context[KeyReturnConsumedCapacity] = []string{v}
	return err
}

// writeContext adds dynamodb:ReturnValues and dynamodb:ReturnConsumedCapacity
// for a single-item write.
func writeContext(c *Check, req *object) error {
	v, err := strDefault(req, "ReturnValues", "NONE")
	if err != nil {
		return err
	}
	c.Context[KeyReturnValues] = []string{v}
	return consumedCapacity(c, req)
}

// memberNames returns the names of o's members, sorted.
func memberNames(o *object) []string {
	names := o.names()
	sort.Strings(names)
	return names
}

func (x *extractor) getItem(req *object) ([]Check, error) {
	c, _, err := x.itemKeyCheck("GetItem", req, "Key")
	if err == nil {
		err = readContext(&c, req, false)
	}
	if err == nil {
		err = consumedCapacity(&c, req)
	}
	return []Check{c}, err
}

func (x *extractor) putItem(req *object) ([]Check, error) {
	c, item, err := x.itemKeyCheck("PutItem", req, "Item")
	if err != nil {
		return nil, err
	}
	// For PutItem dynamodb:Attributes holds the names of the item's attributes.
	c.Context[KeyAttributes] = memberNames(item)
	return []Check{c}, writeContext(&c, req)
}

func (x *extractor) updateItem(req *object) ([]Check, error) {
	c, _, err := x.itemKeyCheck("UpdateItem", req, "Key")
	if err != nil {
		return nil, err
	}
	// Legacy AttributeUpdates name the attributes written; UpdateExpression
	// is not parsed for dynamodb:Attributes (see the package documentation).
	upd, err := req.obj("AttributeUpdates", false)
	if err != nil {
		return nil, err
	}
	if upd != nil {
		c.Context[KeyAttributes] = memberNames(upd)
	}
	return []Check{c}, writeContext(&c, req)
}

func (x *extractor) deleteItem(req *object) ([]Check, error) {
	c, _, err := x.itemKeyCheck("DeleteItem", req, "Key")
	if err != nil {
		return nil, err
	}
	return []Check{c}, writeContext(&c, req)
}

// indexTarget reads TableName and IndexName and returns the resource ARN
// and the key schema that applies (nil when the table or index is unknown).
func (x *extractor) indexTarget(req *object) (string, *KeySchema, error) {
	t, err := tableName(req)
	if err != nil {
		return "", nil, err
	}
	index, err := req.str("IndexName")
	if err != nil {
		return "", nil, err
	}
	resource := x.tableARN(t)
	if index != "" {
		if err := validName("IndexName", index); err != nil {
			return "", nil, err
		}
		resource += "/index/" + index
	}
	s, err := x.schema(t)
	if err != nil || s == nil {
		return resource, nil, err
	}
	if index == "" {
		return resource, &s.KeySchema, nil
	}
	if ks, ok := s.Indexes[index]; ok {
		return resource, &ks, nil
	}
	return resource, nil, nil
}

func (x *extractor) query(req *object) ([]Check, error) {
	resource, ks, err := x.indexTarget(req)
	if err != nil {
		return nil, err
	}
	c := Check{Action: "dynamodb:Query", Resource: resource, Context: map[string][]string{}}
	pk, err := queryPartitionKey(req, ks)
	if err != nil {
		return nil, err
	}
	if ks != nil {
		c.Context[KeyLeadingKeys] = []string{pk}
	}
	if err := readContext(&c, req, true); err != nil {
		return nil, err
	}
	return []Check{c}, consumedCapacity(&c, req)
}

// queryPartitionKey validates a Query's key condition (expression or legacy)
// and returns the rendered partition-key value. ks nil (unknown table or
// index) validates the syntax and placeholders only.
func queryPartitionKey(req *object, ks *KeySchema) (string, error) {
	expr, err := expression(req, "KeyConditionExpression")
	if err != nil {
		return "", err
	}
	legacy, err := req.obj("KeyConditions", false)
	if err != nil {
		return "", err
	}
	switch {
	case expr != "" && legacy != nil:
		return "", errValidation("Can not use both expression and non-expression parameters in the same request: " +
			"Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}")
	case legacy != nil:
		return legacyPartitionKey(legacy, ks)
	case expr == "":
		return "", errValidation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	names, err := req.stringMap("ExpressionAttributeNames")
	if err != nil {
		return "", err
	}
	values, err := req.obj("ExpressionAttributeValues", false)
	if err != nil {
		return "", err
	}
	return keyConditionPartitionKey(expr, names, values, ks)
}

// keyConditionPartitionKey evaluates a KeyConditionExpression against a key
// schema: exactly one condition per key attribute, an equality on the
// partition key, optionally one condition on the sort key.
func keyConditionPartitionKey(expr string, names map[string]string, values *object, ks *KeySchema) (string, error) {
	conds, err := parseKeyConditionExpression(expr)
	if err != nil {
		return "", errValidation(err.Error())
	}
	seen := map[string]bool{}
	var pkValue json.RawMessage
	for _, c := range conds {
		attr, err := resolveName(c.Attr, names, "KeyConditionExpression")
		if err != nil {
			return "", err
		}
		var raws []json.RawMessage
		for _, v := range c.Values {
			var raw json.RawMessage
			if values != nil {
				if raw, err = values.get(v); err != nil {
					return "", errSerialization(err.Error())
				}
			}
			if raw == nil {
				return "", errValidation("Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: " + v)
			}
			raws = append(raws, raw)
		}
		if seen[attr] {
			return "", errValidation("KeyConditionExpressions must only contain one condition per key")
		}
		seen[attr] = true
		if ks == nil {
			continue
		}
		switch attr {
		case ks.PartitionKey:
			if c.Op != "=" {
				return "", errValidation("Query key condition not supported")
			}
			pkValue = raws[0]
		case ks.SortKey:
		default:
			return "", errValidation("Query key condition not supported")
		}
	}
	if len(conds) > 2 {
		return "", errValidation("Conditions can be of length 1 or 2 only")
	}
	if ks == nil {
		return "", nil
	}
	if pkValue == nil {
		return "", errValidation("Query condition missed key schema element: " + ks.PartitionKey)
	}
	return keyValue(ks.PartitionKey, pkValue)
}

// legacyPartitionKey evaluates the legacy KeyConditions parameter: EQ with
// one value on the partition key, optionally a condition on the sort key.
func legacyPartitionKey(conds *object, ks *KeySchema) (string, error) {
	if conds.len() == 0 || conds.len() > 2 {
		return "", errValidation("Conditions can be of length 1 or 2 only")
	}
	var pk string
	found := false
	for _, attr := range conds.names() {
		cond, err := conds.obj(attr, true)
		if err != nil {
			return "", err
		}
		if cond == nil {
			return "", errValidation("Query key condition not supported")
		}
		op, err := cond.str("ComparisonOperator")
		if err != nil {
			return "", err
		}
		list, err := cond.list("AttributeValueList")
		if err != nil {
			return "", err
		}
		if ks == nil {
			continue
		}
		switch attr {
		case ks.PartitionKey:
			if op != "EQ" || len(list) != 1 {
				return "", errValidation("Query key condition not supported")
			}
			if pk, err = keyValue(attr, list[0]); err != nil {
				return "", err
			}
			found = true
		case ks.SortKey:
		default:
			return "", errValidation("Query key condition not supported")
		}
	}
	if ks != nil && !found {
		return "", errValidation("Query condition missed key schema element: " + ks.PartitionKey)
	}
	return pk, nil
}

func (x *extractor) scan(req *object) ([]Check, error) {
	resource, _, err := x.indexTarget(req)
	if err != nil {
		return nil, err
	}
	// Scan carries no dynamodb:LeadingKeys: it reads every partition.
	c := Check{Action: "dynamodb:Scan", Resource: resource, Context: map[string][]string{}}
	if err := readContext(&c, req, true); err != nil {
		return nil, err
	}
	return []Check{c}, consumedCapacity(&c, req)
}

// requestTables reads RequestItems and returns it with its table names sorted.
func requestTables(req *object) (*object, []string, error) {
	items, err := req.obj("RequestItems", false)
	if err != nil {
		return nil, nil, err
	}
	if items == nil || items.len() == 0 {
		return nil, nil, errValidation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	tables := items.names()
	for _, t := range tables {
		if err := validName("TableName", t); err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(tables)
	return items, tables, nil
}

// leadingKeys renders the partition-key values of keys (deduplicated, in
// request order) with schema s; nil when s is nil (unknown table).
func leadingKeys(keys []*object, s *TableSchema) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		v, err := partitionValue(k, s.PartitionKey)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return dedupe(out), nil
}

// batchCheck builds the check of one table of a batch request: action on the
// table with the partition-key values of keys as dynamodb:LeadingKeys (none
// when the table is unknown).
func (x *extractor) batchCheck(action, table string, keys []*object) (Check, error) {
	c := Check{Action: "dynamodb:" + action, Resource: x.tableARN(table), Context: map[string][]string{}}
	s, err := x.schema(table)
	if err != nil {
		return Check{}, err
	}
	lk, err := leadingKeys(keys, s)
	if err != nil {
		return Check{}, err
	}
	if lk != nil {
		c.Context[KeyLeadingKeys] = lk
	}
	return c, nil
}

// DynamoDB's limits on the items of one request: BatchGetItem keys and
// BatchWriteItem write requests over all tables, TransactItems members.
// The gateway refuses a longer request before parsing its items, as
// DynamoDB refuses it: a 16 MB body of tiny items would otherwise cost
// gigabytes of parsed objects and a schema lookup per table.
const (
	maxBatchGetKeys  = 100
	maxBatchWrites   = 25
	maxTransactItems = 100
)

// batch builds one check per table of a batch request: action on the
// table with the leading keys of the keys tableKeys returns for it (at
// most the max it is given), plus what its extra adds (nil: nothing), plus
// ReturnConsumedCapacity. The request holds at most max items in all.
func (x *extractor) batch(req *object, action string, max int, tableKeys func(t string, items *object, max int) ([]*object, func(*Check) error, error)) ([]Check, error) {
	items, tables, err := requestTables(req)
	if err != nil {
		return nil, err
	}
	tooMany := errValidation("Too many items requested for the " + action + " call")
	if len(tables) > max { // every table holds at least one item
		return nil, tooMany
	}
	checks := make([]Check, 0, len(tables))
	for _, t := range tables {
		keys, extra, err := tableKeys(t, items, max)
		if errors.Is(err, errTooMany) {
			return nil, tooMany
		}
		if err != nil {
			return nil, err
		}
		max -= len(keys)
		c, err := x.batchCheck(action, t, keys)
		if err != nil {
			return nil, err
		}
		if extra != nil {
			if err := extra(&c); err != nil {
				return nil, err
			}
		}
		if err := consumedCapacity(&c, req); err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	return checks, nil
}

func (x *extractor) batchGetItem(req *object) ([]Check, error) {
	return x.batch(req, "BatchGetItem", maxBatchGetKeys, batchGetKeys)
}

// batchGetKeys reads the Keys (at most max) of table t of a BatchGetItem;
// the table's projection and attributes add to its check.
func batchGetKeys(t string, items *object, max int) ([]*object, func(*Check) error, error) {
	ka, err := items.obj(t, true)
	if err != nil {
		return nil, nil, err
	}
	if ka == nil {
		return nil, nil, errValidation("1 validation error detected: Value null at 'requestItems." + t + "' failed to satisfy constraint: Member must not be null")
	}
	rawKeys, err := ka.listAtMost("Keys", max)
	if err != nil {
		return nil, nil, err
	}
	if len(rawKeys) == 0 {
		return nil, nil, errValidation("1 validation error detected: Value '[]' at 'requestItems." + t + ".member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	keys := make([]*object, 0, len(rawKeys))
	for _, rk := range rawKeys {
		k, err := parseObject(rk, false)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
	}
	return keys, func(c *Check) error { return readContext(c, ka, false) }, nil
}

func (x *extractor) batchWriteItem(req *object) ([]Check, error) {
	return x.batch(req, "BatchWriteItem", maxBatchWrites, batchWriteKeys)
}

// batchWriteKeys reads the keys (a PutRequest's Item, a DeleteRequest's
// Key) of the write requests (at most max) of table t of a BatchWriteItem.
func batchWriteKeys(t string, items *object, max int) ([]*object, func(*Check) error, error) {
	writes, err := items.listAtMost(t, max)
	if err != nil {
		return nil, nil, err
	}
	if len(writes) == 0 {
		return nil, nil, errValidation("1 validation error detected: Value '[]' at 'requestItems." + t + "' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	keys := make([]*object, 0, len(writes))
	for _, raw := range writes {
		k, err := writeRequestKey(raw)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil, nil
}

// writeRequestKey returns the item or key of one BatchWriteItem request,
// which holds exactly one of PutRequest and DeleteRequest.
func writeRequestKey(raw json.RawMessage) (*object, error) {
	wr, err := parseObject(raw, true)
	if err != nil {
		return nil, err
	}
	put, err := wr.obj("PutRequest", true)
	if err != nil {
		return nil, err
	}
	del, err := wr.obj("DeleteRequest", true)
	if err != nil {
		return nil, err
	}
	var member *object
	var name string
	switch {
	case put != nil && del == nil:
		member, name = put, "Item"
	case del != nil && put == nil:
		member, name = del, "Key"
	default:
		return nil, errValidation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	k, err := member.obj(name, false)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errValidation("1 validation error detected: Value null at '" + lowerFirst(name) + "' failed to satisfy constraint: Member must not be null")
	}
	return k, nil
}

// transactMembers reads TransactItems as strict objects.
func transactMembers(req *object) ([]*object, error) {
	raws, err := req.listAtMost("TransactItems", maxTransactItems)
	if errors.Is(err, errTooMany) {
		return nil, errValidation(fmt.Sprintf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "+
			"Member must have length less than or equal to %d", maxTransactItems))
	}
	if err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, errValidation("1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	out := make([]*object, 0, len(raws))
	for _, r := range raws {
		m, err := parseObject(r, true)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (x *extractor) transactGetItems(req *object) ([]Check, error) {
	members, err := transactMembers(req)
	if err != nil {
		return nil, err
	}
	checks := make([]Check, 0, len(members))
	for _, m := range members {
		get, err := m.obj("Get", true)
		if err != nil {
			return nil, err
		}
		if get == nil || m.len() != 1 {
			return nil, errValidation("TransactItems can only contain Get")
		}
		c, _, err := x.itemKeyCheck("GetItem", get, "Key")
		if err != nil {
			return nil, err
		}
		if err := readContext(&c, get, false); err != nil {
			return nil, err
		}
		if err := consumedCapacity(&c, req); err != nil {
			return nil, err
		}
		c.Context[KeyEnclosingOperation] = []string{"TransactGetItems"}
		checks = append(checks, c)
	}
	return checks, nil
}

// transactWriteActions maps a TransactWriteItems member to the action it is
// authorized as and the member holding its key.
var transactWriteActions = []struct{ member, action, key string }{
	{"Put", "PutItem", "Item"},
	{"Update", "UpdateItem", "Key"},
	{"Delete", "DeleteItem", "Key"},
	{"ConditionCheck", "ConditionCheckItem", "Key"},
}

func (x *extractor) transactWriteItems(req *object) ([]Check, error) {
	members, err := transactMembers(req)
	if err != nil {
		return nil, err
	}
	checks := make([]Check, 0, len(members))
	for _, m := range members {
		var found []Check
		for _, a := range transactWriteActions {
			op, err := m.obj(a.member, true)
			if err != nil {
				return nil, err
			}
			if op == nil {
				continue
			}
			c, _, err := x.itemKeyCheck(a.action, op, a.key)
			if err != nil {
				return nil, err
			}
			if a.action != "ConditionCheckItem" {
				c.Context[KeyReturnValues] = []string{"NONE"}
			}
			if err := consumedCapacity(&c, req); err != nil {
				return nil, err
			}
			c.Context[KeyEnclosingOperation] = []string{"TransactWriteItems"}
			found = append(found, c)
		}
		if len(found) != 1 || m.len() != 1 {
			return nil, errValidation("TransactItems can only contain one of Check, Put, Update or Delete")
		}
		checks = append(checks, found...)
	}
	return checks, nil
}
