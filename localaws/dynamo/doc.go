// Package dynamo is the local AWS's DynamoDB endpoint: a gateway that
// authenticates every request, authorizes it the way DynamoDB does —
// including the item-level condition key dynamodb:LeadingKeys — with the
// policies/iam evaluator, and forwards allowed requests to a
// DynamoDB-compatible backend that is never exposed itself.
//
// # Wire format
//
// The gateway speaks DynamoDB's JSON protocol: POST with
// X-Amz-Target: DynamoDB_20120810.<Operation>, a JSON body, and responses
// with Content-Type application/x-amz-json-1.0, x-amzn-RequestId and
// x-amz-crc32 (the IEEE CRC-32 of the body, which the SDKs verify). Errors
// are {"__type":"<namespace>#<Code>","message":"..."} ("Message" in
// AccessDeniedException, as DynamoDB spells it), a message never longer
// than 1,024 characters and a request value quoted in it cut to 128, with
// DynamoDB's codes:
// authentication errors come from the Authenticator; AccessDeniedException
// (HTTP 400) carries iam's AWS-worded message, for example
//
//	User: arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1-ab12 is not authorized to
//	perform: dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo/index/gsi
//	because no session policy allows the dynamodb:Query action
//
// # Authorization
//
// Extract builds a request's checks (action, resource ARN, condition keys):
// one per request, one per table for BatchGetItem and BatchWriteItem, one
// per member for transactions (authorized as the member's action with
// dynamodb:EnclosingOperation). dynamodb:LeadingKeys holds the partition-key
// values of Key, Item, Keys, RequestItems, or the partition-key equality of
// a Query's KeyConditionExpression (or legacy KeyConditions), under the key
// schema of the table or of the queried index — so a Query on a GSI is
// checked against the index's partition key and the index ARN. Scan never
// carries LeadingKeys. dynamodb:Select (default ALL_ATTRIBUTES,
// SPECIFIC_ATTRIBUTES with a projection), dynamodb:ReturnValues (default
// NONE), dynamodb:ReturnConsumedCapacity (default NONE) and
// dynamodb:Attributes are set as documented in aws-semantics.md.
//
// Known limits, all on dynamodb:Attributes: it holds the top-level names of
// ProjectionExpression / AttributesToGet, of PutItem's Item and of legacy
// AttributeUpdates; names used only in UpdateExpression, ConditionExpression
// or FilterExpression are not included, so a policy that restricts writes
// with dynamodb:Attributes is not faithfully enforced. PartiQL
// (ExecuteStatement, ...) is not authorized and answered with
// UnknownOperationException, as is every operation Operations does not list.
//
// Request bodies are parsed strictly (duplicate members, members differing
// only in case, and API members spelled in another case are refused with
// SerializationException) so that the gateway authorizes exactly what the
// backend will execute. A body is parsed once, in one pass that validates
// it as encoding/json does (FuzzParseObject holds the two together); the
// gateway forwards the bytes it parsed and reads what it needs after the
// backend answered from the same parse.
//
// # Usage
//
//	backend := dynamo.NewMinidynBackend() // or dynamo.NewProxyBackend("http://127.0.0.1:4567")
//	gw, err := dynamo.NewGateway(dynamo.GatewayOptions{Backend: backend, Auth: auth, Logger: logger})
//	if err != nil { ... }
//	mux.Handle("POST /", gw) // for requests whose X-Amz-Target starts with dynamo.TargetPrefix
//
// # Concurrency
//
// Gateway, the backends and every exported function are safe for
// concurrent use. The gateway caches table key schemas, fetched from the
// backend with an internal DescribeTable, and drops a table's entry when a
// CreateTable, UpdateTable or DeleteTable for it passes through.
package dynamo
