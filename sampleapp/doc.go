// Package sampleapp is the seed's reader app rebuilt over the tvm client: it
// seeds the demo table and runs the tenant-isolation experiments of the blog
// post "Lock Down DynamoDB with IAM Policy Conditions" (table and GSI queries
// with the app's own identity, with a no-grant role, and with broker-vended
// credentials for tenant 1 and 2), plus checks the post did not make (Scan,
// cross-tenant GetItem, mixed-tenant BatchGetItem, a wildcard tenant), and
// the rows of the other isolation models (verify_models.go): silo (a table
// per tenant), bridge (a table per tenant and LeadingKeys) and ABAC (session
// tags, the role's own policy isolates; and a session of that role without
// the tag, which the app assumes itself).
//
// The experiment logic runs against an Env: the app's own credentials, the
// app assuming a role itself (the no-grant role, the ABAC role without
// tags), a factory of broker-vended credentials and a factory of DynamoDB
// clients (ReadAPI, a four-method subset of *dynamodb.Client). NewEnv
// builds the real one from a Config; tests build one over fakes. Verify runs
// the whole list and returns a Report; Report.WriteTable and Report.WriteJSON
// render it. The CLI (Main, binary tvm-sample) is a thin layer over these.
//
// With a bucket configured (Config.Bucket, default tvm-demo-bucket), seed
// also writes one object per tenant prefix (tenants/1/, tenants/12/,
// tenants/2/) and verify adds the S3 prefix-isolation rows of verify_s3.go
// (S3's AccessDenied is their denial), through an S3API client factory.
//
// # Data
//
// Table tvm-demo: key PK (HASH) / SK (RANGE); GSI "gsi" on PK1 / SK1,
// projection ALL. Items Tenant#1/Item#1 (PK1 Tenant#1), Tenant#2/Item#2 (PK1
// Tenant#2) and Tenant#2/Item#3 (PK1 Tenant#1): on the GSI tenant 1 sees
// Item#3, which tenant 2 owns on the table, because dynamodb:LeadingKeys is
// checked against the partition key of what is queried — the index's, for an
// index.
//
// Tables tvm-demo-1, tvm-demo-12 and tvm-demo-2 (Config.SiloTable, same
// schema): each tenant's own items (SiloItems), and in tvm-demo-1 a stray
// row keyed Tenant#12, which a silo session of tenant 1 reads with its
// table and a bridge session does not. Tenants 1 and 12 show that a table
// name pattern (tvm-demo-1*) would cross tenants.
//
// # Outcomes
//
// Only DynamoDB's AccessDeniedException counts as "denied". A broker refusal,
// a failure to obtain credentials, or any other error is its own outcome, so
// a broken broker or STS can never pass as isolation.
//
// # Concurrency
//
// An Env and a Config are read-only after construction and safe for
// concurrent use; Verify runs its experiments one after the other.
package sampleapp
