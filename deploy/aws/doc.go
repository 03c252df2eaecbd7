// Package awsdeploy holds no code: it is the home of the tests of the
// CloudFormation template in this directory (cloudformation.yaml), since no
// AWS account is reachable where the tests run and there is no cfn-lint.
//
// The tests parse the template with a YAML parser that keeps
// CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, !Join), check that
// every reference names a parameter, a resource, a resource attribute or a
// pseudo parameter, resolve the intrinsic functions for the local AWS's
// account (123456789012, us-east-1, the local broker and admin users as
// the broker and sample-app principals), parse every IAM policy with the
// project's evaluator (policies/iam), and require each role the local AWS
// also has (localaws/identity's built-in configuration) to decide a battery
// of requests exactly as its local twin does: trust (who may assume it,
// with which tags) and permissions (which DynamoDB calls on which tables
// and partitions, with and without the tenant tag).
package awsdeploy
