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
// target when it names one of the target's placeholders or one of its
// actions by the service prefix ("s3:GetObject"); it must then name at
// least one of the target's isolating (Required) placeholders.
// Cross-service grants ("*", NotAction) are left to the lint, which refuses
// them.
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
// package (invalid-json, placeholder, charset, size, parse), then, for
// each Allow statement, the statement rules of the template's targets and
// the generic ones: unknown-action (default deny for the unknown: an
// action no target of the template knows — another service's, sts:*,
// iam:*, "*", NotAction — unless the profile lists it, on those
// resources, under extra_actions: ExtraGrant, reported UNPROVEN) and
// resource-scope (every resource must lie within one the profile declares
// — its placeholders' values and its extra grants' resources,
// ResourceWithin — and never has a wildcard in its partition, service,
// region or account). Each *LintError names its rule, statement and
// offending text. Lint runs on every template at load, with the
// placeholders' symbolic samples (LintOptions.Profile nil: what needs the
// profile is left for the rendering), and on every policy rendered for a
// profile (Template.RenderWith), where a binding that is a StatementLinter
// checks the statements with its tenant's own resources.
//
// Prove builds, for each of two sample tenants, the tenant's session — its
// session policy (the template rendered for it, unless the profile
// isolates by session tags without one), the role's policies as deployed
// (or an allow-all role when they are unknown), its name, tags and source
// identity — and runs each binding's proof battery on it: a Prober
// evaluates every request with the IAM evaluator of package iam, carrying
// the global condition keys a real request carries (GlobalKeys); a row
// that wants a request denied must be denied whatever the keys the row
// does not know take (iam.Session.EvaluatePossible: the time, the network,
// the request's parameters, the caller's subject). Rows follow the grants:
// an own-tenant row for each action and resource form the profile grants
// (Prober.Granted), denial rows for each granted action against the other
// tenant's resources, and the target's hazards. A failing row refuses the
// profile, naming it.
//
// # Concurrency
//
// A Set, its Templates and Catalogues are immutable after construction and
// safe for concurrent use; Render, Lint and Prove have no shared mutable
// state. A Prober belongs to one Prove call.
package policies
