// Package policies renders, lints and proves the IAM session policies the
// broker attaches to AssumeRole so that a tenant's credentials reach only its
// own DynamoDB partition keys.
//
// # Templates
//
// A template is a JSON file (templates/*.json, embedded; LoadTemplates can
// override or extend them from a directory). It is itself valid JSON: a
// placeholder is a JSON string consisting of exactly one of
//
//	"{{leading_key}}"  the formatted partition-key value, e.g. "Tenant#1"
//	"{{tenant}}"       the validated tenant id
//	"{{table_arns}}"   the table ARNs
//	"{{index_arns}}"   each table ARN + "/index/*"
//
// Array-valued placeholders inside an array are spliced in as elements; as a
// bare value they become an array. Any other string containing "{{" or "}}",
// and placeholder syntax in an object key, is refused at load. A shipped
// template looks like:
//
//	{"Version": "2012-10-17",
//	 "Statement": [{"Sid": "TenantItemRead", "Effect": "Allow",
//	   "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
//	   "Resource": ["{{table_arns}}", "{{index_arns}}"],
//	   "Condition": {
//	     "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["{{leading_key}}"]},
//	     "Null": {"dynamodb:LeadingKeys": "false"}}}]}
//
// Rendering never splices strings: the template is parsed into an
// order-preserving tree, placeholder strings are replaced by values, and the
// tree is encoded value by value with encoding/json and compacted. The
// rendered policy's hash is the hex SHA-256 of the compact JSON.
//
// # Checks
//
// Lint refuses documents that break a rule (see Rules; each *LintError names
// its rule, statement and offending text). It runs on every template at load,
// with symbolic sample values substituted, and on every rendered policy.
// Prove evaluates a rendered template for two sample tenants with the IAM
// evaluator of package iam and refuses it, naming the failing row, if any
// tenant can reach the other's keys (with any keyed action the policy
// grants), Scan, use a key-less action the policy grants, or lose access to
// its own items on the table or an index.
//
// # Concurrency
//
// A Set and its Templates are immutable after LoadTemplates and safe for
// concurrent use; Render, Lint, LeadingKey and Prove have no shared mutable
// state (LeadingKey caches compiled anchored patterns in a sync.Map).
package policies
