package s3

import (
	"slices"
	"strings"

	"github.com/tvmkit/tvm/policies"
)

// kind classifies an S3 action by what a tenant session may do with it.
type kind uint8

const (
	// kindObject: an action on one object (resource type "object"), so an
	// object ARN under the tenant's prefix confines it to the tenant.
	kindObject kind = iota
	// kindList: ListBucket or ListBucketVersions, on the bucket, whose
	// requests carry s3:prefix: a prefix condition confines them.
	kindList
	// kindACLWrite: an object ACL write. Its resource is the object, but an
	// ACL grants access outside IAM (to other accounts, or anyone), which
	// no session policy can confine.
	kindACLWrite
	// kindAdmin: everything else — bucket-level actions (policy, ACL,
	// lifecycle, CORS, ...; ListBucketMultipartUploads, which has no
	// s3:prefix key) and account-level ones (access points, jobs, Storage
	// Lens, ListAllMyBuckets, ...). None can be confined to a prefix.
	kindAdmin
)

// action is one IAM action of S3 with its kind and whether it modifies.
type action struct {
	name  string
	kind  kind
	write bool
}

// actions lists every IAM action of the S3 service (prefix "s3") of the
// Service Authorization Reference ("Actions, resources, and condition keys
// for Amazon S3", 2026-06; the machine-generated list of cloudtools/awacs
// awacs/s3.py was used to cross-check the names), sorted by name. The
// linter expands action wildcards against this list, so "s3:Get*" is seen
// to grant GetBucketPolicy as well as GetObject.
//
// Object actions (resource type "object" in the reference) are kindObject;
// ListBucket and ListBucketVersions carry s3:prefix ("s3:prefix" is listed
// for them alone, not for ListBucketMultipartUploads) and are kindList; the
// object ACL writes are kindACLWrite; every other action is kindAdmin.
var actions = []action{
	{"AbortMultipartUpload", kindObject, true},
	{"AssociateAccessGrantsIdentityCenter", kindAdmin, true},
	{"BypassGovernanceRetention", kindObject, true},
	{"CreateAccessGrant", kindAdmin, true},
	{"CreateAccessGrantsInstance", kindAdmin, true},
	{"CreateAccessGrantsLocation", kindAdmin, true},
	{"CreateAccessPoint", kindAdmin, true},
	{"CreateAccessPointForObjectLambda", kindAdmin, true},
	{"CreateBucket", kindAdmin, true},
	{"CreateJob", kindAdmin, true},
	{"CreateMultiRegionAccessPoint", kindAdmin, true},
	{"CreateStorageLensGroup", kindAdmin, true},
	{"DeleteAccessGrant", kindAdmin, true},
	{"DeleteAccessGrantsInstance", kindAdmin, true},
	{"DeleteAccessGrantsLocation", kindAdmin, true},
	{"DeleteAccessPoint", kindAdmin, true},
	{"DeleteAccessPointForObjectLambda", kindAdmin, true},
	{"DeleteAccessPointPolicy", kindAdmin, true},
	{"DeleteBucket", kindAdmin, true},
	{"DeleteBucketOwnershipControls", kindAdmin, true},
	{"DeleteBucketPolicy", kindAdmin, true},
	{"DeleteBucketWebsite", kindAdmin, true},
	{"DeleteJobTagging", kindAdmin, true},
	{"DeleteMultiRegionAccessPoint", kindAdmin, true},
	{"DeleteObject", kindObject, true},
	{"DeleteObjectTagging", kindObject, true},
	{"DeleteObjectVersion", kindObject, true},
	{"DeleteObjectVersionTagging", kindObject, true},
	{"DeleteStorageLensConfiguration", kindAdmin, true},
	{"DeleteStorageLensConfigurationTagging", kindAdmin, true},
	{"DeleteStorageLensGroup", kindAdmin, true},
	{"DescribeJob", kindAdmin, false},
	{"DissociateAccessGrantsIdentityCenter", kindAdmin, true},
	{"GetAccelerateConfiguration", kindAdmin, false},
	{"GetAccessGrant", kindAdmin, false},
	{"GetAccessGrantsInstance", kindAdmin, false},
	{"GetAccessGrantsInstanceForPrefix", kindAdmin, false},
	{"GetAccessGrantsInstanceResourcePolicy", kindAdmin, false},
	{"GetAccessGrantsLocation", kindAdmin, false},
	{"GetAccessPoint", kindAdmin, false},
	{"GetAccessPointForObjectLambda", kindAdmin, false},
	{"GetAccessPointPolicy", kindAdmin, false},
	{"GetAccessPointPolicyForObjectLambda", kindAdmin, false},
	{"GetAccessPointPolicyStatus", kindAdmin, false},
	{"GetAccountPublicAccessBlock", kindAdmin, false},
	{"GetAnalyticsConfiguration", kindAdmin, false},
	{"GetBucketAbac", kindAdmin, false},
	{"GetBucketAcl", kindAdmin, false},
	{"GetBucketCORS", kindAdmin, false},
	{"GetBucketLocation", kindAdmin, false},
	{"GetBucketLogging", kindAdmin, false},
	{"GetBucketMetadataTableConfiguration", kindAdmin, false},
	{"GetBucketNotification", kindAdmin, false},
	{"GetBucketObjectLockConfiguration", kindAdmin, false},
	{"GetBucketOwnershipControls", kindAdmin, false},
	{"GetBucketPolicy", kindAdmin, false},
	{"GetBucketPolicyStatus", kindAdmin, false},
	{"GetBucketPublicAccessBlock", kindAdmin, false},
	{"GetBucketRequestPayment", kindAdmin, false},
	{"GetBucketTagging", kindAdmin, false},
	{"GetBucketVersioning", kindAdmin, false},
	{"GetBucketWebsite", kindAdmin, false},
	{"GetDataAccess", kindAdmin, false},
	{"GetEncryptionConfiguration", kindAdmin, false},
	{"GetIntelligentTieringConfiguration", kindAdmin, false},
	{"GetInventoryConfiguration", kindAdmin, false},
	{"GetIpConfiguration", kindAdmin, false},
	{"GetJobTagging", kindAdmin, false},
	{"GetLifecycleConfiguration", kindAdmin, false},
	{"GetMetricsConfiguration", kindAdmin, false},
	{"GetMultiRegionAccessPoint", kindAdmin, false},
	{"GetMultiRegionAccessPointPolicy", kindAdmin, false},
	{"GetMultiRegionAccessPointPolicyStatus", kindAdmin, false},
	{"GetMultiRegionAccessPointRoutes", kindAdmin, false},
	{"GetObject", kindObject, false},
	{"GetObjectAcl", kindObject, false},
	{"GetObjectAttributes", kindObject, false},
	{"GetObjectLegalHold", kindObject, false},
	{"GetObjectRetention", kindObject, false},
	{"GetObjectTagging", kindObject, false},
	{"GetObjectTorrent", kindObject, false},
	{"GetObjectVersion", kindObject, false},
	{"GetObjectVersionAcl", kindObject, false},
	{"GetObjectVersionAttributes", kindObject, false},
	{"GetObjectVersionForReplication", kindObject, false},
	{"GetObjectVersionTagging", kindObject, false},
	{"GetObjectVersionTorrent", kindObject, false},
	{"GetReplicationConfiguration", kindAdmin, false},
	{"GetStorageLensConfiguration", kindAdmin, false},
	{"GetStorageLensConfigurationTagging", kindAdmin, false},
	{"GetStorageLensDashboard", kindAdmin, false},
	{"GetStorageLensGroup", kindAdmin, false},
	{"HeadBucket", kindAdmin, false},
	{"InitiateReplication", kindObject, true},
	{"ListAccessGrants", kindAdmin, false},
	{"ListAccessGrantsInstances", kindAdmin, false},
	{"ListAccessGrantsLocations", kindAdmin, false},
	{"ListAccessPoints", kindAdmin, false},
	{"ListAccessPointsForObjectLambda", kindAdmin, false},
	{"ListAllMyBuckets", kindAdmin, false},
	{"ListBucket", kindList, false},
	{"ListBucketByTags", kindAdmin, false},
	{"ListBucketMultipartUploads", kindAdmin, false},
	{"ListBucketVersions", kindList, false},
	{"ListCallerAccessGrants", kindAdmin, false},
	{"ListJobs", kindAdmin, false},
	{"ListMultiRegionAccessPoints", kindAdmin, false},
	{"ListMultipartUploadParts", kindObject, false},
	{"ListObjects", kindAdmin, false},
	{"ListStorageLensConfigurations", kindAdmin, false},
	{"ListStorageLensGroups", kindAdmin, false},
	{"ListTagsForResource", kindAdmin, false},
	{"ObjectOwnerOverrideToBucketOwner", kindObject, true},
	{"PauseReplication", kindAdmin, true},
	{"PutAccelerateConfiguration", kindAdmin, true},
	{"PutAccessGrantsInstanceResourcePolicy", kindAdmin, true},
	{"PutAccessPointPolicy", kindAdmin, true},
	{"PutAccessPointPolicyForObjectLambda", kindAdmin, true},
	{"PutAccessPointPublicAccessBlock", kindAdmin, true},
	{"PutAccountPublicAccessBlock", kindAdmin, true},
	{"PutAnalyticsConfiguration", kindAdmin, true},
	{"PutBucketAbac", kindAdmin, true},
	{"PutBucketAcl", kindAdmin, true},
	{"PutBucketCORS", kindAdmin, true},
	{"PutBucketLogging", kindAdmin, true},
	{"PutBucketNotification", kindAdmin, true},
	{"PutBucketObjectLockConfiguration", kindAdmin, true},
	{"PutBucketOwnershipControls", kindAdmin, true},
	{"PutBucketPolicy", kindAdmin, true},
	{"PutBucketPublicAccessBlock", kindAdmin, true},
	{"PutBucketRequestPayment", kindAdmin, true},
	{"PutBucketTagging", kindAdmin, true},
	{"PutBucketVersioning", kindAdmin, true},
	{"PutBucketWebsite", kindAdmin, true},
	{"PutEncryptionConfiguration", kindAdmin, true},
	{"PutIntelligentTieringConfiguration", kindAdmin, true},
	{"PutInventoryConfiguration", kindAdmin, true},
	{"PutIpConfiguration", kindAdmin, true},
	{"PutJobTagging", kindAdmin, true},
	{"PutLifecycleConfiguration", kindAdmin, true},
	{"PutMetricsConfiguration", kindAdmin, true},
	{"PutMultiRegionAccessPointPolicy", kindAdmin, true},
	{"PutObject", kindObject, true},
	{"PutObjectAcl", kindACLWrite, true},
	{"PutObjectLegalHold", kindObject, true},
	{"PutObjectRetention", kindObject, true},
	{"PutObjectTagging", kindObject, true},
	{"PutObjectVersionAcl", kindACLWrite, true},
	{"PutObjectVersionTagging", kindObject, true},
	{"PutReplicationConfiguration", kindAdmin, true},
	{"PutStorageLensConfiguration", kindAdmin, true},
	{"PutStorageLensConfigurationTagging", kindAdmin, true},
	{"ReplicateDelete", kindObject, true},
	{"ReplicateObject", kindObject, true},
	{"ReplicateTags", kindObject, true},
	{"RestoreObject", kindObject, true},
	{"SubmitMultiRegionAccessPointRoutes", kindAdmin, true},
	{"TagResource", kindAdmin, true},
	{"UntagResource", kindAdmin, true},
	{"UpdateAccessGrantsLocation", kindAdmin, true},
	{"UpdateJobPriority", kindAdmin, true},
	{"UpdateJobStatus", kindAdmin, true},
	{"UpdateObjectEncryption", kindObject, true},
	{"UpdateStorageLensGroup", kindAdmin, true},
}

// byName maps an action name to its entry.
var byName = func() map[string]action {
	m := make(map[string]action, len(actions))
	for _, a := range actions {
		m[a.name] = a
	}
	return m
}()

// catalogue is the S3 action catalogue. Keyed marks the actions a tenant
// session can be confined with: object actions through the object ARN
// under the tenant's prefix, and the two prefix-keyed listings through
// s3:prefix.
var catalogue = func() *policies.Catalogue {
	out := make([]policies.Action, len(actions))
	for i, a := range actions {
		out[i] = policies.Action{Name: a.name, Keyed: a.kind == kindObject || a.kind == kindList, Write: a.write}
	}
	if !slices.IsSortedFunc(out, func(a, b policies.Action) int { return strings.Compare(a.Name, b.Name) }) {
		panic("policies/s3: actions are not sorted")
	}
	return policies.NewCatalogue(Service, out)
}()

// kindOf returns the kind of a catalogue action name.
func kindOf(name string) kind { return byName[name].kind }

// coreObjectActions are the object actions whose other-tenant rows every
// proof checks, granted or not: reading, writing (PutObject also
// authorizes CopyObject's destination and every step of a multipart
// upload), deleting, and the two multipart-upload actions on an upload's
// object.
var coreObjectActions = []string{"GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload", "ListMultipartUploadParts"}
