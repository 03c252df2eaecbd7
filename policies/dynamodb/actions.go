package dynamodb

import "github.com/tvmkit/tvm/policies"

// actions lists every IAM action of the DynamoDB service (prefix
// "dynamodb"), from the Service Authorization Reference ("Actions,
// resources, and condition keys for Amazon DynamoDB"), including
// permission-only actions such as ReadDataForReplication,
// WriteDataForReplication and ReplicateSettings (granted to the replication
// service principal of multi-account global tables, DynamoDB Developer Guide
// "DynamoDB global tables security"). The linter expands action wildcards
// against this list, so a pattern such as "dynamodb:Get*" is seen to grant
// GetRecords and GetShardIterator as well as GetItem.
//
// Keyed marks the actions whose request context carries
// dynamodb:LeadingKeys (Service Authorization Reference, condition keys
// column). Every other DynamoDB action is key-less: a LeadingKeys condition
// cannot restrict it, so a tenant session must never be allowed it. Write
// marks the keyed actions that modify items.
var actions = []policies.Action{
	{Name: "AssociateTableReplica"},
	{Name: "BatchGetItem", Keyed: true},
	{Name: "BatchWriteItem", Keyed: true, Write: true},
	{Name: "ConditionCheckItem", Keyed: true},
	{Name: "CreateBackup"},
	{Name: "CreateGlobalTable"},
	{Name: "CreateGlobalTableWitness"},
	{Name: "CreateTable"},
	{Name: "CreateTableReplica"},
	{Name: "DeleteBackup"},
	{Name: "DeleteGlobalTableWitness"},
	{Name: "DeleteItem", Keyed: true, Write: true},
	{Name: "DeleteResourcePolicy"},
	{Name: "DeleteTable"},
	{Name: "DeleteTableReplica"},
	{Name: "DescribeBackup"},
	{Name: "DescribeContinuousBackups"},
	{Name: "DescribeContributorInsights"},
	{Name: "DescribeEndpoints"},
	{Name: "DescribeExport"},
	{Name: "DescribeGlobalTable"},
	{Name: "DescribeGlobalTableSettings"},
	{Name: "DescribeImport"},
	{Name: "DescribeKinesisStreamingDestination"},
	{Name: "DescribeLimits"},
	{Name: "DescribeReservedCapacity"},
	{Name: "DescribeReservedCapacityOfferings"},
	{Name: "DescribeStream"},
	{Name: "DescribeTable"},
	{Name: "DescribeTableReplicaAutoScaling"},
	{Name: "DescribeTimeToLive"},
	{Name: "DisableKinesisStreamingDestination"},
	{Name: "EnableKinesisStreamingDestination"},
	{Name: "ExportTableToPointInTime"},
	{Name: "GetAbacStatus"},
	{Name: "GetItem", Keyed: true},
	{Name: "GetRecords"},
	{Name: "GetResourcePolicy"},
	{Name: "GetShardIterator"},
	{Name: "ImportTable"},
	{Name: "ListBackups"},
	{Name: "ListContributorInsights"},
	{Name: "ListExports"},
	{Name: "ListGlobalTables"},
	{Name: "ListImports"},
	{Name: "ListStreams"},
	{Name: "ListTables"},
	{Name: "ListTagsOfResource"},
	{Name: "PartiQLDelete", Keyed: true, Write: true},
	{Name: "PartiQLInsert", Keyed: true, Write: true},
	{Name: "PartiQLSelect", Keyed: true},
	{Name: "PartiQLUpdate", Keyed: true, Write: true},
	{Name: "PurchaseReservedCapacityOfferings"},
	{Name: "PutItem", Keyed: true, Write: true},
	{Name: "PutResourcePolicy"},
	{Name: "Query", Keyed: true},
	{Name: "ReadDataForReplication"},
	{Name: "ReplicateSettings"},
	{Name: "RestoreTableFromAwsBackup"},
	{Name: "RestoreTableFromBackup"},
	{Name: "RestoreTableToPointInTime"},
	{Name: "Scan"},
	{Name: "StartAwsBackupJob"},
	{Name: "TagResource"},
	{Name: "UntagResource"},
	{Name: "UpdateAbacStatus"},
	{Name: "UpdateContinuousBackups"},
	{Name: "UpdateContributorInsights"},
	{Name: "UpdateGlobalTable"},
	{Name: "UpdateGlobalTableSettings"},
	{Name: "UpdateGlobalTableVersion"},
	{Name: "UpdateItem", Keyed: true, Write: true},
	{Name: "UpdateKinesisStreamingDestination"},
	{Name: "UpdateTable"},
	{Name: "UpdateTableReplicaAutoScaling"},
	{Name: "UpdateTimeToLive"},
	{Name: "WriteDataForReplication"},
}

// catalogue is the DynamoDB action catalogue. DynamoDB Accelerator (dax)
// bypasses it: "DAX does not enforce user-level separation on data in
// DynamoDB ... the only access controls that are enforced are the
// permissions in the DAX cluster's IAM policy" (DynamoDB Developer Guide,
// "DAX access control").
var catalogue = policies.NewCatalogue(Service, actions).WithBypass("dax")
