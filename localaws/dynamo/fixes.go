package dynamo

import (
	"bytes"
	"encoding/json"
)

// fixResponse repairs the gaps of DynamoDB-compatible backends in a
// successful response to op, so that SDKs behave as against DynamoDB. Each
// fix only fills in what is missing (absent, null or "") or removes what
// DynamoDB never sends, so a faithful backend's responses pass unchanged.
// req is the parsed request. It returns the new body and true when it
// changed anything.
//
// The gaps, each seen with truora/minidyn v0.8.2 (see the tests):
//   - CreateTable/DescribeTable/UpdateTable/DeleteTable: no TableStatus,
//     TableArn, IndexArn; many members null or "". The SDK's table-exists
//     waiter polls until TableStatus is ACTIVE, so without it it never ends.
//     TableStatus is set to ACTIVE (DELETING for DeleteTable: the table is
//     gone once the call returns, as DynamoDB reports it while deleting);
//     IndexStatus to ACTIVE; ARNs are built from the gateway's region and the
//     caller's account; null and "" members are dropped.
//   - Query/Scan: Items, Count and ScannedCount are omitted when zero, and
//     ScannedCount is never reported. Items becomes [] and Count 0 when
//     absent; ScannedCount becomes Count, which is exact without a filter
//     and a lower bound with one (DynamoDB guarantees ScannedCount >= Count).
//   - BatchGetItem/BatchWriteItem: UnprocessedKeys/UnprocessedItems are
//     omitted when empty; DynamoDB always sends {}.
//   - PutItem/UpdateItem/DeleteItem: minidyn returns Attributes even when
//     ReturnValues is NONE (the default); DynamoDB returns none then.
//
// The missing x-amz-crc32 header is fixed by the gateway for every response.
func fixResponse(op string, req *object, body []byte, region, account string) ([]byte, bool) {
	if !hasFixes[op] {
		return nil, false // GetItem and the rest: nothing to repair, nothing to parse
	}
	resp, err := parseObject(body, false)
	if err != nil {
		return nil, false
	}
	changed := false
	switch op {
	case "DescribeTable":
		changed = fixTableMember(resp, "Table", "ACTIVE", region, account)
	case "CreateTable", "UpdateTable":
		changed = fixTableMember(resp, "TableDescription", "ACTIVE", region, account)
	case "DeleteTable":
		changed = fixTableMember(resp, "TableDescription", "DELETING", region, account)
	case "Query", "Scan":
		changed = setIfMissing(resp, "Items", []byte(`[]`))
		changed = setIfMissing(resp, "Count", []byte(`0`)) || changed
		count, _ := resp.lookup("Count")
		changed = setIfMissing(resp, "ScannedCount", count) || changed
	case "BatchGetItem":
		changed = setIfMissing(resp, "Responses", []byte(`{}`))
		changed = setIfMissing(resp, "UnprocessedKeys", []byte(`{}`)) || changed
	case "BatchWriteItem":
		changed = setIfMissing(resp, "UnprocessedItems", []byte(`{}`))
	case "PutItem", "UpdateItem", "DeleteItem":
		if _, ok := resp.lookup("Attributes"); ok && returnValuesNone(req) {
			resp.remove("Attributes")
			changed = true
		}
	}
	if !changed {
		return nil, false
	}
	// Only the members changed are new; the others keep the backend's bytes.
	return resp.encode(), true
}

// hasFixes lists the operations fixResponse repairs.
var hasFixes = map[string]bool{
	"DescribeTable": true, "CreateTable": true, "UpdateTable": true, "DeleteTable": true,
	"Query": true, "Scan": true, "BatchGetItem": true, "BatchWriteItem": true,
	"PutItem": true, "UpdateItem": true, "DeleteItem": true,
}

func returnValuesNone(req *object) bool {
	rv, err := req.str("ReturnValues")
	return err == nil && (rv == "" || rv == "NONE")
}

// setIfMissing sets member key of a response to v when it is missing.
func setIfMissing(o *object, key string, v []byte) bool {
	if raw, _ := o.lookup(key); !missing(raw) {
		return false
	}
	o.set(key, v)
	return true
}

// missing reports whether a member is absent, null or "".
func missing(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) == 0 || bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte(`""`))
}

func setString(m map[string]json.RawMessage, key, v string) bool {
	if !missing(m[key]) {
		return false
	}
	b, _ := json.Marshal(v) // marshalling a string cannot fail
	m[key] = b
	return true
}

// dropEmpty removes null and "" members.
func dropEmpty(m map[string]json.RawMessage) bool {
	changed := false
	for k, v := range m {
		if missing(v) {
			delete(m, k)
			changed = true
		}
	}
	return changed
}

func fixTableMember(resp *object, member, status, region, account string) bool {
	raw, _ := resp.lookup(member)
	var td map[string]json.RawMessage
	if json.Unmarshal(raw, &td) != nil || td == nil {
		return false
	}
	changed := dropEmpty(td)
	var name string
	if json.Unmarshal(td["TableName"], &name) != nil || name == "" {
		return changed
	}
	arn := "arn:aws:dynamodb:" + region + ":" + account + ":table/" + name
	changed = setString(td, "TableStatus", status) || changed
	changed = setString(td, "TableArn", arn) || changed
	for _, list := range []string{"GlobalSecondaryIndexes", "LocalSecondaryIndexes"} {
		if c, ok := fixIndexes(td, list, arn, list == "GlobalSecondaryIndexes"); ok {
			td[list] = c
			changed = true
		}
	}
	if !changed {
		return false
	}
	b, ok := encodeJSON(td)
	if !ok {
		return false
	}
	resp.set(member, b)
	return true
}

func fixIndexes(td map[string]json.RawMessage, list, tableARN string, global bool) (json.RawMessage, bool) {
	var ixs []map[string]json.RawMessage
	if json.Unmarshal(td[list], &ixs) != nil || len(ixs) == 0 {
		return nil, false
	}
	changed := false
	for _, ix := range ixs {
		changed = dropEmpty(ix) || changed
		if p, ok := ix["Projection"]; ok {
			var proj map[string]json.RawMessage
			if json.Unmarshal(p, &proj) == nil && dropEmpty(proj) {
				if b, ok := encodeJSON(proj); ok {
					ix["Projection"] = b
					changed = true
				}
			}
		}
		var name string
		if json.Unmarshal(ix["IndexName"], &name) != nil || name == "" {
			continue
		}
		changed = setString(ix, "IndexArn", tableARN+"/index/"+name) || changed
		if global { // only GSIs have a status
			changed = setString(ix, "IndexStatus", "ACTIVE") || changed
		}
	}
	if !changed {
		return nil, false
	}
	b, ok := encodeJSON(ixs)
	return b, ok
}

// encodeJSON encodes v compactly without HTML escaping, as DynamoDB does.
func encodeJSON(v any) ([]byte, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, false
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), true
}
