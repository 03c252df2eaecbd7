// Package policies renders, lints and proves the IAM session policies the
// broker attaches to AssumeRole so that a tenant's credentials reach only
// its own resources. It names no AWS service: everything service-specific
// comes from isolation targets (Target; the registered ones are in package
// policies/targets, DynamoDB partition keys in policies/dynamodb).
//
// # Templates
//
// A template is a JSON file (templates/*.json, embedded; LoadTemplates can
// override or extend them from a directory). It is itself valid JSON: a
// placeholder is a JSON string consisting of exactly one of "{{tenant}}"
// (the validated tenant id) or a placeholder of a target (package
// policies/dynamodb lists its own: {{leading_key}}, {{table_arns}},
// {{index_arns}}, with a shipped template as an example).
//
// List placeholders inside an array are spliced in as elements; as a bare
// value they become an array. Any other string containing "{{" or "}}", and
// placeholder syntax in an object key, is refused at load. A template uses a
// target when it names one of the target's placeholders or grants one of its
// actions; it must then name the target's required placeholders.
//
// Rendering never splices strings: the template is parsed into an
// order-preserving tree, placeholder strings are replaced by the values the
// profile's target bindings give for the tenant, and the tree is encoded
// value by value with encoding/json and compacted. The rendered policy's
// hash is the hex SHA-256 of the compact JSON.
//
// # Checks
//
// Lint refuses documents that break a rule: the document rules of this
// package (invalid-json, placeholder, charset, size, parse), then the
// statement rules of the template's targets; each *LintError names its rule,
// statement and offending text. It runs on every template at load, with the
// placeholders' symbolic samples substituted, and on every rendered policy.
// Prove renders a template for two sample tenants and runs each binding's
// proof battery (a Prober evaluates the requests with the IAM evaluator of
// package iam), refusing it, naming the failing row, if a tenant can reach
// the other's resources or loses access to its own.
//
// # Concurrency
//
// A Set, its Templates and Catalogues are immutable after construction and
// safe for concurrent use; Render, Lint and Prove have no shared mutable
// state. A Prober belongs to one Prove call.
package policies
