package iam

import (
	"testing"
)

// evalCase is one evaluation: policies, a request and the expected outcome.
type evalCase struct {
	identity []string // identity-based policy documents
	session  []string // session policy documents
	resource []string // resource-based policy documents (ParseResourcePolicy): evaluated alone
	req      Request
	want     Outcome
	kind     PolicyKind // checked when non-empty
	sid      string     // deciding Sid, checked when non-empty
}

func runEvalCases(t *testing.T, cases map[string]evalCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var in Input
			for i, d := range tc.identity {
				in.Identity = append(in.Identity, mustParse(t, "identity"+string(rune('A'+i)), d))
			}
			for i, d := range tc.session {
				in.Session = append(in.Session, mustParse(t, "session"+string(rune('A'+i)), d))
			}
			var resource []*Policy
			for i, d := range tc.resource {
				resource = append(resource, mustParseResource(t, "resource"+string(rune('A'+i)), d))
			}
			got := Evaluate(tc.req, in)
			if resource != nil {
				got = EvaluateResourcePolicy(tc.req, resource)
			}
			if got.Outcome != tc.want {
				t.Fatalf("Outcome = %s, want %s (reason: %s)", got.Outcome, tc.want, got.Reason)
			}
			if tc.kind != "" && got.Kind != tc.kind {
				t.Errorf("Kind = %q, want %q (reason: %s)", got.Kind, tc.kind, got.Reason)
			}
			if tc.sid != "" && got.Sid != tc.sid {
				t.Errorf("Sid = %q, want %q (reason: %s)", got.Sid, tc.sid, got.Reason)
			}
			if got.Reason == "" || got.Explain() == "" {
				t.Error("Reason or Explain is empty")
			}
			if (got.Outcome == Allowed) != (got.DenialMessage(tc.req) == "") {
				t.Errorf("DenialMessage = %q for outcome %s", got.DenialMessage(tc.req), got.Outcome)
			}
		})
	}
}

// Examples from "Creating a condition with multiple context keys or values"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html).
// The page writes the actions as "GetItem" / "PutItem"; IAM requires a
// service prefix, so they are written "dynamodb:GetItem" here.
func TestEvaluateDocsMultiValueConditions(t *testing.T) {
	const threadARN = "arn:aws:dynamodb:REGION:ACCOUNT-ID-WITHOUT-HYPHENS:table/Thread"
	allowListed := `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Effect": "Allow",
	    "Action": "dynamodb:GetItem",
	    "Resource": "` + threadARN + `",
	    "Condition": {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": [
	      "PostDateTime",
	      "Message",
	      "Tags"
	    ]}}
	  }]
	}`
	denyListed := `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Effect": "Deny",
	    "Action": "dynamodb:PutItem",
	    "Resource": "` + threadARN + `",
	    "Condition": {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": [
	      "ID",
	      "PostDateTime"
	    ]}}
	  }]
	}`
	get := func(attrs ...string) Request {
		return Request{Principal: "arn:aws:iam::123456789012:user/Bob", Action: "dynamodb:GetItem", Resource: threadARN,
			Context: map[string][]string{"dynamodb:requestedAttributes": attrs}}
	}
	put := func(attrs ...string) Request {
		r := get(attrs...)
		r.Action = "dynamodb:PutItem"
		return r
	}
	runEvalCases(t, map[string]evalCase{
		"ForAllValues PostDateTime and Message are all listed": {
			identity: []string{allowListed}, req: get("PostDateTime", "Message"), want: Allowed,
		},
		"ForAllValues request including ID is denied": {
			identity: []string{allowListed}, req: get("PostDateTime", "Message", "ID"), want: ImplicitDeny, kind: IdentityPolicy,
		},
		"ForAllValues PostDateTime and UserName: no match for UserName": {
			identity: []string{allowListed}, req: get("PostDateTime", "UserName"), want: ImplicitDeny,
		},
		"ForAllValues empty data set returns true": {
			identity: []string{allowListed}, req: get(), want: Allowed,
		},
		"ForAnyValue PostDateTime and Message: one match, denied": {
			identity: []string{allowAll, denyListed}, req: put("PostDateTime", "Message"), want: ExplicitDeny, kind: IdentityPolicy,
		},
		"ForAnyValue UserName only: condition false, not denied by this policy": {
			identity: []string{allowAll, denyListed}, req: put("UserName"), want: Allowed,
		},
		"ForAnyValue UserName only without another allow: implicit deny": {
			identity: []string{denyListed}, req: put("UserName"), want: ImplicitDeny,
		},
		"ForAnyValue UserName, Message, PostDateTime: last test true, denied": {
			identity: []string{allowAll, denyListed}, req: put("UserName", "Message", "PostDateTime"), want: ExplicitDeny,
		},
		"ForAnyValue empty data set returns false": {
			identity: []string{allowAll, denyListed}, req: put(), want: Allowed,
		},
	})
}

// Examples modelled on "Multivalued context key examples"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html):
// a Deny with ForAllValues on aws:TagKeys, which also matches a request
// without tags unless a Null check is added.
func TestEvaluateDocsMultiValuedContextKeyExamples(t *testing.T) {
	denyForAll := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Deny",
	    "Action": ["iam:TagUser", "iam:TagRole"],
	    "Resource": "*",
	    "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": "key1*"}}
	  }
	}`
	denyForAllNull := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Deny",
	    "Action": ["iam:TagUser", "iam:TagRole"],
	    "Resource": "*",
	    "Condition": {
	      "ForAllValues:StringLike": {"aws:TagKeys": "key1*"},
	      "Null": {"aws:TagKeys": "false"}
	    }
	  }
	}`
	denyForAny := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Deny",
	    "Action": ["iam:TagUser", "iam:TagRole"],
	    "Resource": "*",
	    "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["webserver", "database"]}}
	  }
	}`
	tag := func(keys ...string) Request {
		r := Request{Principal: "arn:aws:iam::123456789012:user/Ana", Action: "iam:TagUser", Resource: "arn:aws:iam::123456789012:user/Bob"}
		if keys != nil {
			r.Context = map[string][]string{"aws:TagKeys": keys}
		}
		return r
	}
	runEvalCases(t, map[string]evalCase{
		"ForAllValues deny: every key matches key1*":           {identity: []string{allowAll, denyForAll}, req: tag("key1legal"), want: ExplicitDeny},
		"ForAllValues deny: key2test does not match":           {identity: []string{allowAll, denyForAll}, req: tag("key1legal", "key2test"), want: Allowed},
		"ForAllValues deny: no aws:TagKeys in request matches": {identity: []string{allowAll, denyForAll}, req: tag(), want: ExplicitDeny},
		"ForAllValues+Null deny: no aws:TagKeys is not denied": {identity: []string{allowAll, denyForAllNull}, req: tag(), want: Allowed},
		"ForAllValues+Null deny: key1legal is denied":          {identity: []string{allowAll, denyForAllNull}, req: tag("key1legal"), want: ExplicitDeny},
		"ForAnyValue deny: one of the keys matches":            {identity: []string{allowAll, denyForAny}, req: tag("environment", "webserver"), want: ExplicitDeny},
		"ForAnyValue deny: none matches":                       {identity: []string{allowAll, denyForAny}, req: tag("environment", "costcenter"), want: Allowed},
		"ForAnyValue deny: no aws:TagKeys returns false":       {identity: []string{allowAll, denyForAny}, req: tag(), want: Allowed},
	})
}

// Examples from "IAM JSON policy elements: Condition operators"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
func TestEvaluateDocsConditionOperators(t *testing.T) {
	const user = "arn:aws:iam::123456789012:user/David"
	stringEquals := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Allow",
	    "Action": "iam:*AccessKey*",
	    "Resource": "arn:aws:iam::account-id:user/*",
	    "Condition": {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}
	  }
	}`
	homeDir := `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {
	      "Effect": "Allow",
	      "Action": [
	        "s3:ListAllMyBuckets",
	        "s3:GetBucketLocation"
	      ],
	      "Resource": "arn:aws:s3:::*"
	    },
	    {
	      "Effect": "Allow",
	      "Action": "s3:ListBucket",
	      "Resource": "arn:aws:s3:::BUCKET-NAME",
	      "Condition": {"StringLike": {"s3:prefix": [
	        "",
	        "home/",
	        "home/${aws:username}/"
	      ]}}
	    },
	    {
	      "Effect": "Allow",
	      "Action": "s3:*",
	      "Resource": [
	        "arn:aws:s3:::BUCKET-NAME/home/${aws:username}",
	        "arn:aws:s3:::BUCKET-NAME/home/${aws:username}/*"
	      ]
	    }
	  ]
	}`
	numeric := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Allow",
	    "Action": "s3:ListBucket",
	    "Resource": "arn:aws:s3:::example_bucket",
	    "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}
	  }
	}`
	date := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Allow",
	    "Action": "iam:*AccessKey*",
	    "Resource": "arn:aws:iam::account-id:user/*",
	    "Condition": {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
	  }
	}`
	boolean := `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {
	      "Sid": "BooleanExample",
	      "Action": "s3:*",
	      "Effect": "Deny",
	      "Resource": [
	        "arn:aws:s3:::DOC-EXAMPLE-BUCKET",
	        "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"
	      ],
	      "Condition": {
	        "Bool": {
	          "aws:SecureTransport": "false"
	        }
	      }
	    }
	  ]
	}`
	binary := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
	    "Condition" : {
	      "BinaryEquals": {
	        "s3:key" : "QmluYXJ5VmFsdWVJbkJhc2U2NA=="
	      }
	    }
	  }
	}`
	ip := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Allow",
	    "Action": "iam:*AccessKey*",
	    "Resource": "arn:aws:iam::account-id:user/*",
	    "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
	  }
	}`
	ipMixed := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Allow",
	    "Action": "someservice:*",
	    "Resource": "*",
	    "Condition": {
	      "IpAddress": {
	        "aws:SourceIp": [
	          "203.0.113.0/24",
	          "2001:DB8:1234:5678::/64"
	        ]
	      }
	    }
	  }
	}`
	arnPattern := func(op string) string {
		return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"someservice:Do","Resource":"*",
		  "Condition":{"` + op + `":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}}}`
	}
	sqs := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Allow",
	    "Principal": {"AWS": "123456789012"},
	    "Action": "SQS:SendMessage",
	    "Resource": "arn:aws:sqs:REGION:123456789012:QUEUE-ID",
	    "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:REGION:123456789012:TOPIC-ID"}}
	  }
	}`
	notWorking := `{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Sid": "THISPOLICYDOESNOTWORK",
	    "Effect": "Allow",
	    "Action": "ec2:RunInstances",
	    "Resource": "*",
	    "Condition": {"StringLike": {"ec2:InstanceType": [
	      "t1.*",
	      "t2.*",
	      "m3.*"
	    ]}}
	  }
	}`
	ifExists := `{
	    "Version": "2012-10-17",
	    "Statement": [
	        {
	            "Sid": "RunInstance",
	            "Effect": "Allow",
	            "Action": "ec2:RunInstances",
	            "Resource": "*",
	            "Condition": {
	                "StringLikeIfExists": {
	                    "ec2:InstanceType": [
	                        "t1.*",
	                        "t2.*",
	                        "m3.*"
	             ]}}
	        },
	        {
	            "Sid": "DescribeActions",
	            "Effect": "Allow",
	            "Action": [
	                "ec2:DescribeImages",
	                "ec2:DescribeInstances",
	                "ec2:DescribeVpcs",
	                "ec2:DescribeKeyPairs",
	                "ec2:DescribeSubnets",
	                "ec2:DescribeSecurityGroups"
	            ],
	            "Resource": "*"
	        }]
	}`
	null := `{
	  "Version": "2012-10-17",
	  "Statement":{
	      "Action":"ec2:*",
	      "Effect":"Allow",
	      "Resource":"*",
	      "Condition":{"Null":{"aws:TokenIssueTime":"true"}}
	  }
	}`
	r := func(action, resource string, c map[string][]string) Request {
		return Request{Principal: user, Action: action, Resource: resource, Context: c}
	}
	const keyARN = "arn:aws:iam::account-id:user/Bob"
	const image = "arn:aws:ec2:us-east-1::image/ami-12345678"
	const instance = "arn:aws:ec2:us-east-1:123456789012:instance/*"
	runEvalCases(t, map[string]evalCase{
		"StringEquals tagged iamuser-admin":   {identity: []string{stringEquals}, req: r("iam:CreateAccessKey", keyARN, ctx("aws:PrincipalTag/job-category", "iamuser-admin")), want: Allowed},
		"StringEquals other job category":     {identity: []string{stringEquals}, req: r("iam:UpdateAccessKey", keyARN, ctx("aws:PrincipalTag/job-category", "auditor")), want: ImplicitDeny},
		"StringEquals user without the tag":   {identity: []string{stringEquals}, req: r("iam:ListAccessKeys", keyARN, nil), want: ImplicitDeny},
		"StringEquals is case sensitive":      {identity: []string{stringEquals}, req: r("iam:CreateAccessKey", keyARN, ctx("aws:PrincipalTag/job-category", "IAMUser-Admin")), want: ImplicitDeny},
		"StringEquals action not matched":     {identity: []string{stringEquals}, req: r("iam:CreateUser", keyARN, ctx("aws:PrincipalTag/job-category", "iamuser-admin")), want: ImplicitDeny},
		"StringLike home: empty prefix":       {identity: []string{homeDir}, req: r("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", ctx("s3:prefix", "", "aws:username", "David")), want: Allowed},
		"StringLike home: home/":              {identity: []string{homeDir}, req: r("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", ctx("s3:prefix", "home/", "aws:username", "David")), want: Allowed},
		"StringLike home: own directory":      {identity: []string{homeDir}, req: r("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", ctx("s3:prefix", "home/David/", "aws:username", "David")), want: Allowed},
		"StringLike home: other directory":    {identity: []string{homeDir}, req: r("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", ctx("s3:prefix", "home/Bob/", "aws:username", "David")), want: ImplicitDeny},
		"home: own object":                    {identity: []string{homeDir}, req: r("s3:GetObject", "arn:aws:s3:::BUCKET-NAME/home/David/notes.txt", ctx("aws:username", "David")), want: Allowed},
		"home: other user's object":           {identity: []string{homeDir}, req: r("s3:GetObject", "arn:aws:s3:::BUCKET-NAME/home/Bob/notes.txt", ctx("aws:username", "David")), want: ImplicitDeny},
		"home: no aws:username matches none":  {identity: []string{homeDir}, req: r("s3:GetObject", "arn:aws:s3:::BUCKET-NAME/home//notes.txt", nil), want: ImplicitDeny},
		"home: list all buckets":              {identity: []string{homeDir}, req: r("s3:ListAllMyBuckets", "arn:aws:s3:::anything", nil), want: Allowed},
		"NumericLessThanEquals 10":            {identity: []string{numeric}, req: r("s3:ListBucket", "arn:aws:s3:::example_bucket", ctx("s3:max-keys", "10")), want: Allowed},
		"NumericLessThanEquals 5":             {identity: []string{numeric}, req: r("s3:ListBucket", "arn:aws:s3:::example_bucket", ctx("s3:max-keys", "5")), want: Allowed},
		"NumericLessThanEquals 11":            {identity: []string{numeric}, req: r("s3:ListBucket", "arn:aws:s3:::example_bucket", ctx("s3:max-keys", "11")), want: ImplicitDeny},
		"NumericLessThanEquals absent":        {identity: []string{numeric}, req: r("s3:ListBucket", "arn:aws:s3:::example_bucket", nil), want: ImplicitDeny},
		"NumericLessThanEquals not a number":  {identity: []string{numeric}, req: r("s3:ListBucket", "arn:aws:s3:::example_bucket", ctx("s3:max-keys", "ten")), want: ImplicitDeny},
		"DateGreaterThan issued in 2020":      {identity: []string{date}, req: r("iam:CreateAccessKey", keyARN, ctx("aws:TokenIssueTime", "2020-06-01T12:00:00Z")), want: Allowed},
		"DateGreaterThan issued before":       {identity: []string{date}, req: r("iam:CreateAccessKey", keyARN, ctx("aws:TokenIssueTime", "2019-12-31T23:59:59Z")), want: ImplicitDeny},
		"DateGreaterThan epoch seconds":       {identity: []string{date}, req: r("iam:CreateAccessKey", keyARN, ctx("aws:TokenIssueTime", "1600000000")), want: Allowed},
		"DateGreaterThan IAM user: absent":    {identity: []string{date}, req: r("iam:CreateAccessKey", keyARN, nil), want: ImplicitDeny},
		"Bool deny without TLS":               {identity: []string{allowAll, boolean}, req: r("s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a", ctx("aws:SecureTransport", "false")), want: ExplicitDeny, sid: "BooleanExample"},
		"Bool TLS is not denied":              {identity: []string{allowAll, boolean}, req: r("s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a", ctx("aws:SecureTransport", "true")), want: Allowed},
		"BinaryEquals byte for byte":          {identity: []string{binary}, req: r("s3:GetObject", "arn:aws:s3:::b/k", ctx("s3:key", "BinaryValueInBase64")), want: Allowed},
		"BinaryEquals other bytes":            {identity: []string{binary}, req: r("s3:GetObject", "arn:aws:s3:::b/k", ctx("s3:key", "BinaryValueInBase65")), want: ImplicitDeny},
		"IpAddress inside range":              {identity: []string{ip}, req: r("iam:CreateAccessKey", keyARN, ctx("aws:SourceIp", "203.0.113.77")), want: Allowed},
		"IpAddress outside range":             {identity: []string{ip}, req: r("iam:CreateAccessKey", keyARN, ctx("aws:SourceIp", "203.0.114.1")), want: ImplicitDeny},
		"IpAddress via VPC endpoint: absent":  {identity: []string{ip}, req: r("iam:CreateAccessKey", keyARN, nil), want: ImplicitDeny},
		"IpAddress mixed: IPv6 inside":        {identity: []string{ipMixed}, req: r("someservice:Get", "x", ctx("aws:SourceIp", "2001:db8:1234:5678::1")), want: Allowed},
		"IpAddress mixed: IPv6 outside":       {identity: []string{ipMixed}, req: r("someservice:Get", "x", ctx("aws:SourceIp", "2001:db8:1234:5679::1")), want: ImplicitDeny},
		"IpAddress mixed: IPv4 inside":        {identity: []string{ipMixed}, req: r("someservice:Get", "x", ctx("aws:SourceIp", "203.0.113.1")), want: Allowed},
		"StringLike star spans colons":        {identity: []string{arnPattern("StringLike")}, req: r("someservice:Do", "x", ctx("aws:SourceArn", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt")), want: Allowed},
		"ArnLike matches between colons only": {identity: []string{arnPattern("ArnLike")}, req: r("someservice:Do", "x", ctx("aws:SourceArn", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt")), want: ImplicitDeny},
		"ArnLike matching ARN":                {identity: []string{arnPattern("ArnLike")}, req: r("someservice:Do", "x", ctx("aws:SourceArn", "arn:aws:someservice:us-east-2:111122223333:finance/document.txt")), want: Allowed},
		"ArnEquals behaves like ArnLike":      {identity: []string{arnPattern("ArnEquals")}, req: r("someservice:Do", "x", ctx("aws:SourceArn", "arn:aws:someservice:eu-west-1:111122223333:finance/a/b")), want: Allowed},
		"ArnNotLike absent key is true":       {identity: []string{arnPattern("ArnNotLike")}, req: r("someservice:Do", "x", nil), want: Allowed},
		"ArnNotLike matching ARN is false":    {identity: []string{arnPattern("ArnNotLike")}, req: r("someservice:Do", "x", ctx("aws:SourceArn", "arn:aws:someservice:us-east-2:111122223333:finance/d")), want: ImplicitDeny},
		"SQS ArnEquals from the topic": {
			resource: []string{sqs},
			req: Request{Principal: "arn:aws:iam::123456789012:user/sns", Action: "sqs:SendMessage", Resource: "arn:aws:sqs:REGION:123456789012:QUEUE-ID",
				Context: ctx("aws:SourceArn", "arn:aws:sns:REGION:123456789012:TOPIC-ID")},
			want: Allowed, kind: ResourcePolicy,
		},
		"SQS ArnEquals direct call: no aws:SourceArn": {
			resource: []string{sqs},
			req:      Request{Principal: "arn:aws:iam::123456789012:user/Bob", Action: "sqs:SendMessage", Resource: "arn:aws:sqs:REGION:123456789012:QUEUE-ID"},
			want:     ImplicitDeny, kind: ResourcePolicy,
		},
		"SQS principal of another account": {
			resource: []string{sqs},
			req: Request{Principal: "arn:aws:iam::999999999999:user/sns", Action: "sqs:SendMessage", Resource: "arn:aws:sqs:REGION:123456789012:QUEUE-ID",
				Context: ctx("aws:SourceArn", "arn:aws:sns:REGION:123456789012:TOPIC-ID")},
			want: ImplicitDeny,
		},
		"StringLike without IfExists fails on the image":  {identity: []string{notWorking}, req: r("ec2:RunInstances", image, nil), want: ImplicitDeny},
		"StringLike without IfExists allows the instance": {identity: []string{notWorking}, req: r("ec2:RunInstances", instance, ctx("ec2:InstanceType", "t2.micro")), want: Allowed},
		"StringLikeIfExists: image has no instance type":  {identity: []string{ifExists}, req: r("ec2:RunInstances", image, nil), want: Allowed, sid: "RunInstance"},
		"StringLikeIfExists: t2.micro":                    {identity: []string{ifExists}, req: r("ec2:RunInstances", instance, ctx("ec2:InstanceType", "t2.micro")), want: Allowed},
		"StringLikeIfExists: m4.large":                    {identity: []string{ifExists}, req: r("ec2:RunInstances", instance, ctx("ec2:InstanceType", "m4.large")), want: ImplicitDeny},
		"IfExists example DescribeActions":                {identity: []string{ifExists}, req: r("ec2:DescribeVpcs", "*", nil), want: Allowed, sid: "DescribeActions"},
		"Null true: long-term credentials":                {identity: []string{null}, req: r("ec2:DescribeInstances", "*", nil), want: Allowed},
		"Null true: temporary credentials":                {identity: []string{null}, req: r("ec2:DescribeInstances", "*", ctx("aws:TokenIssueTime", "2024-01-01T00:00:00Z")), want: ImplicitDeny},
	})
}

// Examples from "IAM policy elements: Variables and tags"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
func TestEvaluateDocsPolicyVariables(t *testing.T) {
	myBucket := `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {
	      "Action": ["s3:ListBucket"],
	      "Effect": "Allow",
	      "Resource": ["arn:aws:s3:::mybucket"],
	      "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}}
	    },
	    {
	      "Action": [
	        "s3:GetObject",
	        "s3:PutObject"
	      ],
	      "Effect": "Allow",
	      "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]
	    }
	  ]
	}`
	// The same policy without Version: variables are literal strings.
	myBucket2008 := `{
	  "Statement": [
	    {
	      "Action": ["s3:GetObject"],
	      "Effect": "Allow",
	      "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]
	    }
	  ]
	}`
	accessKeys := `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Action": ["iam:*AccessKey*"],
	    "Effect": "Allow",
	    "Resource": ["arn:aws:iam::account-id:user/${aws:username}"]
	  }]
	}`
	queues := `{
	    "Version": "2012-10-17",
	    "Statement": [
	        {
	            "Sid": "ListForConsole",
	            "Effect": "Allow",
	            "Action": "sqs:ListQueues",
	            "Resource": "*"
	        },
	        {
	            "Sid": "AllQueueActions",
	            "Effect": "Allow",
	            "Action": "sqs:*",
	            "Resource": "arn:aws:sqs:us-east-2:*:${aws:username}-queue"
	        }
	    ]
	}`
	department := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*",
	    "Resource": ["arn:aws:s3:::bucket/${aws:PrincipalTag/department}"]}}`
	sns := `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {
	      "Principal": {
	        "AWS": "999999999999"
	      },
	      "Effect": "Allow",
	      "Action": "sns:*",
	      "Condition": {
	        "StringLike": {
	          "sns:endpoint": "https://example.com/${aws:username}/"
	        },
	        "StringEquals": {
	          "sns:Protocol": "https"
	        }
	      }
	    }
	  ]
	}`
	costCenter := `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {
	      "Effect": "Allow",
	      "Action": [
	          "iam:*user*"
	       ],
	      "Resource": "*",
	      "Condition": {
	        "StringLike": {
	          "iam:ResourceTag/costCenter": [ "12345", "67890" ]
	        }
	      }
	    }
	  ]
	}`
	defaultUserID := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
	    "Condition": {"StringEquals": {"aws:Resource": "arn:aws:s3:::/bucket/${aws:userid, 'anonymous'}"}}}}`
	defaultTeam := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
	    "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team, 'company-wide'}/*"]}}`
	special := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
	    "Condition": {"StringLike": {"s3:prefix": "a${*}b${?}c${$}d*"}}}}`
	r := func(action, resource string, c map[string][]string) Request {
		return Request{Principal: "arn:aws:iam::123456789012:user/David", Action: action, Resource: resource, Context: c}
	}
	david := ctx("aws:username", "David")
	runEvalCases(t, map[string]evalCase{
		"prefix under own name":                 {identity: []string{myBucket}, req: r("s3:ListBucket", "arn:aws:s3:::mybucket", ctx("aws:username", "David", "s3:prefix", "David/photos")), want: Allowed},
		"prefix under another name":             {identity: []string{myBucket}, req: r("s3:ListBucket", "arn:aws:s3:::mybucket", ctx("aws:username", "David", "s3:prefix", "Adele/photos")), want: ImplicitDeny},
		"own object":                            {identity: []string{myBucket}, req: r("s3:PutObject", "arn:aws:s3:::mybucket/David/a.txt", david), want: Allowed},
		"another user's object":                 {identity: []string{myBucket}, req: r("s3:GetObject", "arn:aws:s3:::mybucket/Adele/a.txt", david), want: ImplicitDeny},
		"key names are case-insensitive":        {identity: []string{myBucket}, req: r("s3:GetObject", "arn:aws:s3:::mybucket/David/a.txt", ctx("AWS:UserName", "David")), want: Allowed},
		"2008 version: variable is literal":     {identity: []string{myBucket2008}, req: r("s3:GetObject", "arn:aws:s3:::mybucket/David/a.txt", david), want: ImplicitDeny},
		"2008 version: literal text matches":    {identity: []string{myBucket2008}, req: r("s3:GetObject", "arn:aws:s3:::mybucket/${aws:username}/a.txt", david), want: Allowed},
		"own access keys":                       {identity: []string{accessKeys}, req: r("iam:CreateAccessKey", "arn:aws:iam::account-id:user/David", david), want: Allowed},
		"someone else's access keys":            {identity: []string{accessKeys}, req: r("iam:CreateAccessKey", "arn:aws:iam::account-id:user/Adele", david), want: ImplicitDeny},
		"own queue":                             {identity: []string{queues}, req: r("sqs:SendMessage", "arn:aws:sqs:us-east-2:123456789012:David-queue", david), want: Allowed, sid: "AllQueueActions"},
		"someone else's queue":                  {identity: []string{queues}, req: r("sqs:SendMessage", "arn:aws:sqs:us-east-2:123456789012:Adele-queue", david), want: ImplicitDeny},
		"own queue in another region":           {identity: []string{queues}, req: r("sqs:SendMessage", "arn:aws:sqs:us-west-2:123456789012:David-queue", david), want: ImplicitDeny},
		"list queues":                           {identity: []string{queues}, req: r("sqs:ListQueues", "arn:aws:sqs:us-east-2:123456789012:", david), want: Allowed, sid: "ListForConsole"},
		"department tag bucket":                 {identity: []string{department}, req: r("s3:ListBucket", "arn:aws:s3:::bucket/HR", ctx("aws:PrincipalTag/department", "HR")), want: Allowed},
		"department tag other bucket":           {identity: []string{department}, req: r("s3:ListBucket", "arn:aws:s3:::bucket/Sales", ctx("aws:PrincipalTag/department", "HR")), want: ImplicitDeny},
		"department tag absent matches nothing": {identity: []string{department}, req: r("s3:ListBucket", "arn:aws:s3:::bucket/", nil), want: ImplicitDeny},
		"SNS endpoint and protocol": {resource: []string{sns},
			req:  Request{Principal: "arn:aws:iam::999999999999:user/David", Action: "sns:Subscribe", Resource: "arn:aws:sns:us-east-1:111122223333:t", Context: ctx("aws:username", "David", "sns:Endpoint", "https://example.com/David/", "sns:Protocol", "https")},
			want: Allowed},
		"SNS endpoint of another user": {resource: []string{sns},
			req:  Request{Principal: "arn:aws:iam::999999999999:user/David", Action: "sns:Subscribe", Resource: "arn:aws:sns:us-east-1:111122223333:t", Context: ctx("aws:username", "David", "sns:Endpoint", "https://example.com/Adele/", "sns:Protocol", "https")},
			want: ImplicitDeny},
		"SNS plain http": {resource: []string{sns},
			req:  Request{Principal: "arn:aws:iam::999999999999:user/David", Action: "sns:Subscribe", Resource: "arn:aws:sns:us-east-1:111122223333:t", Context: ctx("aws:username", "David", "sns:Endpoint", "https://example.com/David/", "sns:Protocol", "http")},
			want: ImplicitDeny},
		"costCenter 12345":                      {identity: []string{costCenter}, req: r("iam:GetUser", "arn:aws:iam::1:user/x", ctx("iam:ResourceTag/costCenter", "12345")), want: Allowed},
		"costCenter 67890":                      {identity: []string{costCenter}, req: r("iam:GetUser", "arn:aws:iam::1:user/x", ctx("iam:ResourceTag/costCenter", "67890")), want: Allowed},
		"costCenter other value":                {identity: []string{costCenter}, req: r("iam:GetUser", "arn:aws:iam::1:user/x", ctx("iam:ResourceTag/costCenter", "11111")), want: ImplicitDeny},
		"costCenter no tag":                     {identity: []string{costCenter}, req: r("iam:GetUser", "arn:aws:iam::1:user/x", nil), want: ImplicitDeny},
		"default used for anonymous":            {identity: []string{defaultUserID}, req: r("s3:GetObject", "x", ctx("aws:Resource", "arn:aws:s3:::/bucket/anonymous")), want: Allowed},
		"default not used when key present":     {identity: []string{defaultUserID}, req: r("s3:GetObject", "x", ctx("aws:Resource", "arn:aws:s3:::/bucket/anonymous", "aws:userid", "AIDAEXAMPLE")), want: ImplicitDeny},
		"value used when key present":           {identity: []string{defaultUserID}, req: r("s3:GetObject", "x", ctx("aws:Resource", "arn:aws:s3:::/bucket/AIDAEXAMPLE", "aws:userid", "AIDAEXAMPLE")), want: Allowed},
		"resource default without the tag":      {identity: []string{defaultTeam}, req: r("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/company-wide/doc", nil), want: Allowed},
		"resource default with the tag":         {identity: []string{defaultTeam}, req: r("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/red/doc", ctx("aws:PrincipalTag/team", "red")), want: Allowed},
		"resource default ignored with the tag": {identity: []string{defaultTeam}, req: r("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/company-wide/doc", ctx("aws:PrincipalTag/team", "red")), want: ImplicitDeny},
		"special characters are literal":        {identity: []string{special}, req: r("s3:GetObject", "x", ctx("s3:prefix", "a*b?c$d-anything")), want: Allowed},
		"${*} is not a wildcard":                {identity: []string{special}, req: r("s3:GetObject", "x", ctx("s3:prefix", "axb?c$d")), want: ImplicitDeny},
		"${?} is not a wildcard":                {identity: []string{special}, req: r("s3:GetObject", "x", ctx("s3:prefix", "a*bxc$d")), want: ImplicitDeny},
		"multivalued key is not a variable":     {identity: []string{myBucket}, req: r("s3:GetObject", "arn:aws:s3:::mybucket/David/a.txt", ctx("aws:username", []string{"David", "Adele"})), want: ImplicitDeny},
	})
}

// Examples from "IAM JSON policy elements: Resource"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
func TestMatchResourceDocs(t *testing.T) {
	cases := map[string]struct {
		pattern, arn string
		want         bool
	}{
		"specific queue":                   {"arn:aws:sqs:us-east-2:account-ID-without-hyphens:queue1", "arn:aws:sqs:us-east-2:account-ID-without-hyphens:queue1", true},
		"user Bob":                         {"arn:aws:iam::account-ID-without-hyphens:user/Bob", "arn:aws:iam::account-ID-without-hyphens:user/Bob", true},
		"user name is case sensitive":      {"arn:aws:iam::account-ID-without-hyphens:user/Bob", "arn:aws:iam::account-ID-without-hyphens:user/bob", false},
		"accounting path":                  {"arn:aws:iam::account-ID-without-hyphens:user/accounting/*", "arn:aws:iam::account-ID-without-hyphens:user/accounting/alice", true},
		"accounting sub path":              {"arn:aws:iam::account-ID-without-hyphens:user/accounting/*", "arn:aws:iam::account-ID-without-hyphens:user/accounting/east/bob", true},
		"other path":                       {"arn:aws:iam::account-ID-without-hyphens:user/accounting/*", "arn:aws:iam::account-ID-without-hyphens:user/sales/carol", false},
		"all items in bucket":              {"arn:aws:s3:::my_corporate_bucket/*", "arn:aws:s3:::my_corporate_bucket/a/b/c.txt", true},
		"not the bucket itself":            {"arn:aws:s3:::my_corporate_bucket/*", "arn:aws:s3:::my_corporate_bucket", false},
		"books table":                      {"arn:aws:dynamodb:us-east-2:account-ID-without-hyphens:table/books_table", "arn:aws:dynamodb:us-east-2:account-ID-without-hyphens:table/books_table", true},
		"books table is not magazines":     {"arn:aws:dynamodb:us-east-2:account-ID-without-hyphens:table/books_table", "arn:aws:dynamodb:us-east-2:account-ID-without-hyphens:table/magazines_table", false},
		"*/test/* 1/test/object.jpg":       {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1/test/object.jpg", true},
		"*/test/* 1/2/test/object.jpg":     {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1/2/test/object.jpg", true},
		"*/test/* 1/2/test/3/object.jpg":   {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1/2/test/3/object.jpg", true},
		"*/test/* 1///test///object.jpg":   {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1///test///object.jpg", true},
		"*/test/* //test/object.jpg":       {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket//test/object.jpg", true},
		"*/test/* 1/test/":                 {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1/test/", true},
		"*/test/* not 1-test/object.jpg":   {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1-test/object.jpg", false},
		"*/test/* not test/object.jpg":     {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/test/object.jpg", false},
		"*/test/* not 1/2/test.jpg":        {"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1/2/test.jpg", false},
		"? is one character":               {"arn:aws:s3:::bucket/file?.txt", "arn:aws:s3:::bucket/file1.txt", true},
		"? is exactly one character":       {"arn:aws:s3:::bucket/file?.txt", "arn:aws:s3:::bucket/file12.txt", false},
		"segment star stays in segment":    {"arn:aws:dynamodb:us-*-1:123456789012:table/T", "arn:aws:dynamodb:us-east-1:123456789012:table/T", true},
		"star stays in its component":      {"arn:aws:dynamodb:*:123456789012:table/T", "arn:aws:dynamodb:us-east-1:999:123456789012:table/T", false},
		"resource component has colons":    {"arn:aws:logs:us-east-1:1:log-group:*", "arn:aws:logs:us-east-1:1:log-group:g:log-stream:s", true},
		"star in resource spans colons":    {"arn:aws:logs:us-east-1:1:log-group:a*b", "arn:aws:logs:us-east-1:1:log-group:a:b", true},
		"short pattern, trailing star":     {"arn:aws:dynamodb:*", "arn:aws:dynamodb:us-east-1:1:table/T", true},
		"short pattern, other service":     {"arn:aws:dynamodb:*", "arn:aws:s3:::b", false},
		"short pattern without star":       {"arn:aws:dynamodb:us-east-1", "arn:aws:dynamodb:us-east-1:1:table/T", false},
		"not an ARN":                       {"arn:aws:dynamodb:us-east-1:1:table/T", "table/T", false},
		"table/T/* matches a stream":       {"arn:aws:dynamodb:*:1:table/T/*", "arn:aws:dynamodb:us-east-1:1:table/T/stream/2026-01-01T00:00:00.000", true},
		"table/T/index/* is not a stream":  {"arn:aws:dynamodb:*:1:table/T/index/*", "arn:aws:dynamodb:us-east-1:1:table/T/stream/2026-01-01T00:00:00.000", false},
		"table/T/index/* matches an index": {"arn:aws:dynamodb:*:1:table/T/index/*", "arn:aws:dynamodb:us-east-1:1:table/T/index/gsi", true},
		"table/T is not table/T2":          {"arn:aws:dynamodb:*:1:table/T", "arn:aws:dynamodb:us-east-1:1:table/T2", false},
		"star region":                      {"arn:aws:dynamodb:*:123456789012:table/T", "arn:aws:dynamodb:eu-west-1:123456789012:table/T", true},
		"star account mismatch table":      {"arn:aws:dynamodb:*:*:table/T", "arn:aws:dynamodb:eu-west-1:123456789012:table/U", false},
		"bare star":                        {"*", "arn:aws:anything:::x", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := MatchResource(tc.pattern, tc.arn); got != tc.want {
				t.Errorf("MatchResource(%q, %q) = %v, want %v", tc.pattern, tc.arn, got, tc.want)
			}
		})
	}
}

// Examples from "IAM JSON policy elements: Action"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html).
func TestMatchActionDocs(t *testing.T) {
	cases := map[string]struct {
		pattern, action string
		want            bool
	}{
		"exact":                    {"sqs:SendMessage", "sqs:SendMessage", true},
		"case-insensitive service": {"SQS:SendMessage", "sqs:SendMessage", true},
		"case-insensitive name":    {"iam:listaccesskeys", "iam:ListAccessKeys", true},
		"all of a service":         {"s3:*", "s3:GetObject", true},
		"other service":            {"s3:*", "sqs:SendMessage", false},
		"prefix":                   {"iam:*AccessKey*", "iam:ListAccessKeys", true},
		"infix":                    {"iam:*AccessKey*", "iam:CreateUser", false},
		"Describe*":                {"ec2:Describe*", "ec2:DescribeInstances", true},
		"question mark":            {"s3:?etObject", "s3:GetObject", true},
		"question mark one char":   {"s3:?etObject", "s3:GGetObject", false},
		"everything":               {"*", "dynamodb:Scan", true},
		"Get* does not match Scan": {"dynamodb:Get*", "dynamodb:Scan", false},
		"GetItem is not BatchGet":  {"dynamodb:GetItem", "dynamodb:BatchGetItem", false},
		"trailing text must match": {"dynamodb:Query", "dynamodb:QueryX", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := MatchAction(tc.pattern, tc.action); got != tc.want {
				t.Errorf("MatchAction(%q, %q) = %v, want %v", tc.pattern, tc.action, got, tc.want)
			}
		})
	}
}

// The example of "Policy variables with no value"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value):
// "Access is explicitly denied when aws:principaltag/Team is not set", because
// "Inverted condition operators like StringNotEquals or StringNotLike do match
// against a null value"; positive operators "do not match", and "the resource
// that includes a policy variable with no value will not match any resource".
func TestEvaluateDocsPolicyVariablesWithNoValue(t *testing.T) {
	denyOtherTeam := `{
	  "Version": "2012-10-17",
	  "Statement": [
	   {
	    "Effect": "Deny",
	    "Action": "s3:GetObject",
	    "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
	    "Condition": {
	      "StringNotEquals": {
	        "s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"
	       }
	      }
	    }
	  ]
	}`
	negatedOps := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"NotLike","Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"StringNotLike":{"s3:prefix":"${aws:PrincipalTag/Team}/*"}}},
	  {"Sid":"NotArn","Effect":"Deny","Action":"s3:PutObject","Resource":"*","Condition":{"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::${aws:PrincipalTag/Team}"}}}]}`
	positive := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
	  "Condition":{"StringEquals":{"s3:ExistingObjectTag/Team":"${aws:PrincipalTag/Team}"}}}}`
	notResource := `{"Version":"2012-10-17","Statement":{"Sid":"AllButOwnTeam","Effect":"Deny","Action":"s3:GetObject",
	  "NotResource":"arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/Team}/*"}}`
	obj := "arn:aws:s3:::amzn-s3-demo-bucket/report.csv"
	r := func(action string, c map[string][]string) Request {
		return Request{Principal: session, Action: action, Resource: obj, Context: c}
	}
	runEvalCases(t, map[string]evalCase{
		"tag set and equal: not denied": {identity: []string{allowAll, denyOtherTeam},
			req: r("s3:GetObject", ctx("aws:PrincipalTag/Team", "red", "s3:ExistingObjectTag/Team", "red")), want: Allowed},
		"tag set and different: denied": {identity: []string{allowAll, denyOtherTeam},
			req: r("s3:GetObject", ctx("aws:PrincipalTag/Team", "red", "s3:ExistingObjectTag/Team", "blue")), want: ExplicitDeny},
		"tag not set: explicitly denied": {identity: []string{allowAll, denyOtherTeam},
			req: r("s3:GetObject", ctx("s3:ExistingObjectTag/Team", "red")), want: ExplicitDeny, kind: IdentityPolicy},
		"tag not set, StringNotLike: denied": {identity: []string{allowAll, negatedOps},
			req: r("s3:GetObject", ctx("s3:prefix", "red/x")), want: ExplicitDeny, sid: "NotLike"},
		"tag not set, ArnNotLike: denied": {identity: []string{allowAll, negatedOps},
			req: r("s3:PutObject", ctx("aws:SourceArn", "arn:aws:s3:::red")), want: ExplicitDeny, sid: "NotArn"},
		"tag not set, positive operator does not match": {identity: []string{positive},
			req: r("s3:GetObject", ctx("s3:ExistingObjectTag/Team", "")), want: ImplicitDeny},
		"tag not set, NotResource entry matches nothing: the Deny applies": {identity: []string{allowAll, notResource},
			req: r("s3:GetObject", nil), want: ExplicitDeny, sid: "AllButOwnTeam"},
		"tag set, NotResource excludes the own prefix": {identity: []string{allowAll, notResource},
			req: Request{Principal: session, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/red/a", Context: ctx("aws:PrincipalTag/Team", "red")}, want: Allowed},
	})
}
