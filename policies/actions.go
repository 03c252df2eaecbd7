package policies

import "strings"

// dynamoDBActions lists every IAM action of the DynamoDB service (prefix
// "dynamodb"), from the Service Authorization Reference ("Actions, resources,
// and condition keys for Amazon DynamoDB"), including permission-only actions
// such as ReadDataForReplication, WriteDataForReplication and
// ReplicateSettings (granted to the replication service principal of
// multi-account global tables, DynamoDB Developer Guide "DynamoDB global
// tables security").
// The linter expands action wildcards against this list, so a pattern such as
// "dynamodb:Get*" is seen to grant GetRecords and GetShardIterator as well as
// GetItem.
var dynamoDBActions = []string{
	"AssociateTableReplica",
	"BatchGetItem",
	"BatchWriteItem",
	"ConditionCheckItem",
	"CreateBackup",
	"CreateGlobalTable",
	"CreateGlobalTableWitness",
	"CreateTable",
	"CreateTableReplica",
	"DeleteBackup",
	"DeleteGlobalTableWitness",
	"DeleteItem",
	"DeleteResourcePolicy",
	"DeleteTable",
	"DeleteTableReplica",
	"DescribeBackup",
	"DescribeContinuousBackups",
	"DescribeContributorInsights",
	"DescribeEndpoints",
	"DescribeExport",
	"DescribeGlobalTable",
	"DescribeGlobalTableSettings",
	"DescribeImport",
	"DescribeKinesisStreamingDestination",
	"DescribeLimits",
	"DescribeReservedCapacity",
	"DescribeReservedCapacityOfferings",
	"DescribeStream",
	"DescribeTable",
	"DescribeTableReplicaAutoScaling",
	"DescribeTimeToLive",
	"DisableKinesisStreamingDestination",
	"EnableKinesisStreamingDestination",
	"ExportTableToPointInTime",
	"GetAbacStatus",
	"GetItem",
	"GetRecords",
	"GetResourcePolicy",
	"GetShardIterator",
	"ImportTable",
	"ListBackups",
	"ListContributorInsights",
	"ListExports",
	"ListGlobalTables",
	"ListImports",
	"ListStreams",
	"ListTables",
	"ListTagsOfResource",
	"PartiQLDelete",
	"PartiQLInsert",
	"PartiQLSelect",
	"PartiQLUpdate",
	"PurchaseReservedCapacityOfferings",
	"PutItem",
	"PutResourcePolicy",
	"Query",
	"ReadDataForReplication",
	"ReplicateSettings",
	"RestoreTableFromAwsBackup",
	"RestoreTableFromBackup",
	"RestoreTableToPointInTime",
	"Scan",
	"StartAwsBackupJob",
	"TagResource",
	"UntagResource",
	"UpdateAbacStatus",
	"UpdateContinuousBackups",
	"UpdateContributorInsights",
	"UpdateGlobalTable",
	"UpdateGlobalTableSettings",
	"UpdateGlobalTableVersion",
	"UpdateItem",
	"UpdateKinesisStreamingDestination",
	"UpdateTable",
	"UpdateTableReplicaAutoScaling",
	"UpdateTimeToLive",
	"WriteDataForReplication",
}

// dynamoDBActionByLower maps "dynamodb:name" in lower case to the action's name.
var dynamoDBActionByLower = func() map[string]string {
	m := make(map[string]string, len(dynamoDBActions))
	for _, a := range dynamoDBActions {
		m["dynamodb:"+strings.ToLower(a)] = a
	}
	return m
}()

// keyedActions are the DynamoDB actions whose request context carries
// dynamodb:LeadingKeys (Service Authorization Reference, condition keys
// column). Every other DynamoDB action is key-less: a LeadingKeys condition
// cannot restrict it, so a tenant session must never be allowed it.
var keyedActions = map[string]bool{
	"BatchGetItem":       true,
	"BatchWriteItem":     true,
	"ConditionCheckItem": true,
	"DeleteItem":         true,
	"GetItem":            true,
	"PartiQLDelete":      true,
	"PartiQLInsert":      true,
	"PartiQLSelect":      true,
	"PartiQLUpdate":      true,
	"PutItem":            true,
	"Query":              true,
	"UpdateItem":         true,
}

// writeActions are the keyed actions that modify items.
var writeActions = []string{"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "ConditionCheckItem"}
