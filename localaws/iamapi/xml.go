package iamapi

import (
	"encoding/xml"

	"github.com/tvmkit/tvm/localaws/awsquery"
)

// XML documents, in the shapes aws-sdk-go-v2/service/iam decodes.

type getRoleResponse struct {
	XMLName xml.Name
	Result  getRoleResult             `xml:"GetRoleResult"`
	Meta    awsquery.ResponseMetadata `xml:"ResponseMetadata"`
}

type getRoleResult struct {
	Role xmlRole `xml:"Role"`
}

type xmlRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

type getRolePolicyResponse struct {
	XMLName xml.Name
	Result  getRolePolicyResult       `xml:"GetRolePolicyResult"`
	Meta    awsquery.ResponseMetadata `xml:"ResponseMetadata"`
}

type getRolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

type listRolePoliciesResponse struct {
	XMLName xml.Name
	Result  listRolePoliciesResult    `xml:"ListRolePoliciesResult"`
	Meta    awsquery.ResponseMetadata `xml:"ResponseMetadata"`
}

type listRolePoliciesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool     `xml:"IsTruncated"`
	Marker      string   `xml:"Marker,omitempty"`
}

type listAttachedRolePoliciesResponse struct {
	XMLName xml.Name
	Result  listAttachedRolePoliciesResult `xml:"ListAttachedRolePoliciesResult"`
	Meta    awsquery.ResponseMetadata      `xml:"ResponseMetadata"`
}

type listAttachedRolePoliciesResult struct {
	AttachedPolicies []attachedPolicy `xml:"AttachedPolicies>member"`
	IsTruncated      bool             `xml:"IsTruncated"`
	Marker           string           `xml:"Marker,omitempty"`
}

type attachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type getPolicyResponse struct {
	XMLName xml.Name
	Result  getPolicyResult           `xml:"GetPolicyResult"`
	Meta    awsquery.ResponseMetadata `xml:"ResponseMetadata"`
}

type getPolicyResult struct {
	Policy xmlPolicy `xml:"Policy"`
}

type xmlPolicy struct {
	PolicyName                    string `xml:"PolicyName"`
	PolicyID                      string `xml:"PolicyId"`
	Arn                           string `xml:"Arn"`
	Path                          string `xml:"Path"`
	DefaultVersionID              string `xml:"DefaultVersionId"`
	AttachmentCount               int    `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int    `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool   `xml:"IsAttachable"`
	Description                   string `xml:"Description,omitempty"`
	CreateDate                    string `xml:"CreateDate"`
	UpdateDate                    string `xml:"UpdateDate"`
}

type getPolicyVersionResponse struct {
	XMLName xml.Name
	Result  getPolicyVersionResult    `xml:"GetPolicyVersionResult"`
	Meta    awsquery.ResponseMetadata `xml:"ResponseMetadata"`
}

type getPolicyVersionResult struct {
	PolicyVersion xmlPolicyVersion `xml:"PolicyVersion"`
}

type xmlPolicyVersion struct {
	Document         string `xml:"Document"`
	VersionID        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

// metadataResponse is a response with no result, e.g. PutRolePolicyResponse.
type metadataResponse struct {
	XMLName xml.Name
	Meta    awsquery.ResponseMetadata `xml:"ResponseMetadata"`
}

func emptyResponse(name, reqID string) *metadataResponse {
	return &metadataResponse{XMLName: xml.Name{Space: Namespace, Local: name}, Meta: awsquery.ResponseMetadata{RequestID: reqID}}
}
