package sampleapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tvmkit/tvm/client"
)

// Local defaults (layout of the project's local AWS).
const (
	DefaultEndpoint       = "http://127.0.0.1:4566"
	DefaultBrokerURL      = "http://127.0.0.1:8080"
	DefaultIdPURL         = "http://127.0.0.1:4566"
	DefaultTable          = "tvm-demo"
	DefaultIndex          = "gsi"
	DefaultRegion         = "us-east-1"
	DefaultProfile        = "read"
	DefaultNoGrantProfile = "nogrant"
	DefaultNoGrantRole    = "tvm-no-grant"
	DefaultSubject        = "sample-app"
	DefaultAudience       = "tvm-broker"
	// The isolation models' rows (docs/isolation-models.md): the broker
	// profiles of examples/broker.yaml, the per-tenant table names of the
	// silo and bridge models and the ABAC model's role.
	DefaultSiloProfile   = "silo-read"
	DefaultBridgeProfile = "bridge-read"
	DefaultABACProfile   = "abac-read"
	DefaultSiloTable     = "tvm-demo-{tenant}"
	DefaultABACRole      = "tvm-tenant-abac"
)

// Config configures the sample app. DefaultConfig fills every field for the
// local stack.
type Config struct {
	// Endpoint is the AWS endpoint for DynamoDB and STS; "" = AWS's own
	// endpoints (AWS_ENDPOINT_URL is then ignored).
	Endpoint string
	Region   string
	// BrokerURL is the tvm broker's base URL.
	BrokerURL string
	// IdPURL is the dev IdP's base URL; POST <IdPURL>/idp/token mints tokens.
	IdPURL string
	// TokenFile, when set, replaces minting: the token for tenant T is read
	// from TokenFile with "{tenant}" replaced by T (a file per tenant, for
	// a real IdP).
	TokenFile string
	// Subject and Audience of minted tokens.
	Subject, Audience string
	Table, Index      string
	// Profile is the broker profile of the grant experiments,
	// NoGrantProfile the one of the no-grant experiments.
	Profile, NoGrantProfile string
	// Bucket is the S3 bucket of the S3 experiments and seed objects ("" =
	// none); S3ReadProfile and S3WriteProfile are their broker profiles.
	Bucket, S3ReadProfile, S3WriteProfile string
	// NoGrantRoleARN is the role the app assumes with its own credentials to
	// act as the no-grant role; "" = role/tvm-no-grant in the caller's
	// account and partition (from sts:GetCallerIdentity).
	NoGrantRoleARN string
	// SiloProfile, BridgeProfile and ABACProfile are the broker profiles of
	// the silo, bridge and ABAC rows.
	SiloProfile, BridgeProfile, ABACProfile string
	// SiloTable names a tenant's own table (silo and bridge models):
	// "{tenant}" is replaced by the tenant id.
	SiloTable string
	// ABACRole is the ABAC model's role, which the app assumes itself,
	// without session tags, for the "no tag" row: a role name in the
	// caller's account and partition, or a role ARN.
	ABACRole string
	// BlockFile, when set, is the broker's block list file: verify's block
	// rows block BlockedTenant through it (verify_ops.go).
	BlockFile, BlockedTenant string
	// RevokeCommand, when set, is the operator's revoke command (argv split
	// at blanks): verify's revoke rows revoke RevokedTenant's sessions with
	// it.
	RevokeCommand, RevokedTenant string
	// OpsWait bounds the wait for the broker to apply a block list change;
	// default DefaultOpsWait.
	OpsWait time.Duration
	// AllowInsecureHTTP permits plain http to a non-loopback broker.
	AllowInsecureHTTP bool
	// HTTPClient is used for the IdP and the broker; nil = a client with a
	// 10-second timeout.
	HTTPClient *http.Client
}

// httpClient returns HTTPClient, or a client with a 10-second timeout.
func (c Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// DefaultConfig returns the configuration for the local stack.
func DefaultConfig() Config {
	return Config{
		Endpoint:       DefaultEndpoint,
		Region:         DefaultRegion,
		BrokerURL:      DefaultBrokerURL,
		IdPURL:         DefaultIdPURL,
		Subject:        DefaultSubject,
		Audience:       DefaultAudience,
		Table:          DefaultTable,
		Index:          DefaultIndex,
		Profile:        DefaultProfile,
		NoGrantProfile: DefaultNoGrantProfile,
		Bucket:         DefaultBucket,
		S3ReadProfile:  DefaultS3ReadProfile,
		S3WriteProfile: DefaultS3WriteProfile,
		SiloProfile:    DefaultSiloProfile,
		BridgeProfile:  DefaultBridgeProfile,
		ABACProfile:    DefaultABACProfile,
		SiloTable:      DefaultSiloTable,
		ABACRole:       DefaultABACRole,
		BlockedTenant:  DefaultBlockedTenant,
		RevokedTenant:  DefaultRevokedTenant,
	}
}

// TenantTable returns the silo table of tenant: SiloTable with "{tenant}"
// replaced.
func (c Config) TenantTable(tenant string) string {
	return strings.ReplaceAll(c.SiloTable, "{tenant}", tenant)
}

// noGrantRole is the role the app assumes to act as the no-grant role: an
// ARN, or a name in the caller's account.
func (c Config) noGrantRole() string {
	if c.NoGrantRoleARN != "" {
		return c.NoGrantRoleARN
	}
	return DefaultNoGrantRole
}

// Validate checks the fields every command needs.
func (c Config) Validate() error {
	var missing []string
	for name, v := range map[string]string{"region": c.Region, "table": c.Table, "index": c.Index,
		"profile": c.Profile, "nogrant-profile": c.NoGrantProfile, "broker": c.BrokerURL,
		"silo-profile": c.SiloProfile, "bridge-profile": c.BridgeProfile, "abac-profile": c.ABACProfile,
		"silo-table": c.SiloTable, "abac-role": c.ABACRole} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if c.TokenFile == "" && c.IdPURL == "" {
		missing = append(missing, "idp or token-file")
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return fmt.Errorf("missing configuration: %s", strings.Join(missing, ", "))
	}
	if !strings.Contains(c.SiloTable, "{tenant}") {
		return fmt.Errorf("silo-table %q: must contain {tenant}", c.SiloTable)
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("endpoint %q: not an http(s) URL", c.Endpoint)
		}
	}
	return nil
}

// AWSConfig loads the app's own AWS configuration: the SDK default chain,
// the region, and the endpoint when set.
func (c Config) AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.Region))
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	// An empty Endpoint means AWS's own endpoints, even when
	// AWS_ENDPOINT_URL is set (service-specific AWS_ENDPOINT_URL_<SERVICE>
	// variables still apply, as in every SDK client).
	cfg.BaseEndpoint = nil
	if c.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(c.Endpoint)
	}
	cfg.Credentials = ownCredentials{cfg.Credentials}
	return cfg, nil
}

// noOwnCredentials says what to export when the SDK's default chain finds
// no credentials for the app's own identity (it would otherwise end with
// the raw instance-metadata error).
const noOwnCredentials = "no AWS credentials for tvm-sample's own identity: export AWS_ACCESS_KEY_ID and " +
	"AWS_SECRET_ACCESS_KEY (on the local AWS, the admin dev keys: export AWS_ACCESS_KEY_ID=AKIATVMADMIN00000001 " +
	"AWS_SECRET_ACCESS_KEY=tvmLocalAdminSecretKey0000000000000000001) or AWS_PROFILE"

// ownCredentials is the app's own credential provider, whose failure says
// what to export (noOwnCredentials) before the SDK's own words.
type ownCredentials struct{ p aws.CredentialsProvider }

// Retrieve implements aws.CredentialsProvider.
func (o ownCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if o.p == nil {
		return aws.Credentials{}, errors.New(noOwnCredentials)
	}
	c, err := o.p.Retrieve(ctx)
	if err != nil {
		return c, fmt.Errorf("%s (the SDK: %w)", noOwnCredentials, err)
	}
	return c, nil
}

// NewEnv builds the real Env: DynamoDB and STS clients from the SDK default
// chain, vended credentials from the broker (cached per tenant and
// profile), tokens from the dev IdP or TokenFile.
func NewEnv(ctx context.Context, c Config) (*Env, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.HTTPClient = c.httpClient()
	awsCfg, err := c.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	stsClient := sts.NewFromConfig(awsCfg)
	var (
		mu     sync.Mutex
		vended = map[[2]string]aws.CredentialsProvider{}
		own    = map[string]aws.CredentialsProvider{} // by role ARN
		caller *sts.GetCallerIdentityOutput
	)
	env := &Env{
		Config: c,
		Own:    awsCfg.Credentials,
		DynamoDB: func(p aws.CredentialsProvider) ReadAPI {
			return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.Credentials = p })
		},
		S3: newS3Factory(awsCfg, c),
		Vend: func(tenant, profile string) aws.CredentialsProvider {
			mu.Lock()
			defer mu.Unlock()
			k := [2]string{tenant, profile}
			if p, ok := vended[k]; ok {
				return p
			}
			p := client.Cached(NewVendProvider(c, tenant, profile))
			vended[k] = p
			return p
		},
		AssumeRole: func(ctx context.Context, role string) (aws.CredentialsProvider, error) {
			mu.Lock()
			defer mu.Unlock()
			roleARN := role
			if !strings.HasPrefix(role, "arn:") {
				if caller == nil {
					out, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
					if err != nil {
						return nil, fmt.Errorf("finding the account of role %s: %w", role, err)
					}
					caller = out
				}
				var err error
				if roleARN, err = roleInCallersAccount(caller, role); err != nil {
					return nil, err
				}
			}
			if p, ok := own[roleARN]; ok {
				return p, nil
			}
			p := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, roleARN, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "tvm-sample"
			}))
			own[roleARN] = p
			return p, nil
		},
	}
	opsProviders(c, func(tenant, profile string) aws.CredentialsProvider { return NewVendProvider(c, tenant, profile) }, env)
	return env, nil
}

// roleInCallersAccount is role/<name> in the caller's account and
// partition (aws, aws-cn, aws-us-gov, ...).
func roleInCallersAccount(id *sts.GetCallerIdentityOutput, name string) (string, error) {
	caller, err := arn.Parse(aws.ToString(id.Arn))
	if err != nil || aws.ToString(id.Account) == "" {
		return "", fmt.Errorf("finding the account of role %s: caller identity %q (account %q) is not usable", name, aws.ToString(id.Arn), aws.ToString(id.Account))
	}
	return arn.ARN{Partition: caller.Partition, Service: "iam", AccountID: aws.ToString(id.Account),
		Resource: "role/" + name}.String(), nil
}

// NewVendProvider returns an uncached provider of broker-vended credentials
// for tenant under the broker profile.
func NewVendProvider(c Config, tenant, profile string) *client.Provider {
	return client.New(c.BrokerURL, TokenSource(c, tenant), func(o *client.Options) {
		o.Profile = profile
		o.AllowInsecureHTTP = c.AllowInsecureHTTP
		o.UserAgent = "tvm-sample/1"
		if c.HTTPClient != nil {
			o.HTTPClient = c.HTTPClient // client.New refuses redirects on it
		}
	})
}

// TokenSource returns the token source for tenant: TokenFile with {tenant}
// replaced, or the dev IdP's mint endpoint.
func TokenSource(c Config, tenant string) client.TokenSource {
	if c.TokenFile != "" {
		return client.FileToken(strings.ReplaceAll(c.TokenFile, "{tenant}", tenant))
	}
	hc := c.httpClient()
	return client.TokenFunc(func(ctx context.Context) (string, error) {
		return MintToken(ctx, hc, c.IdPURL, MintRequest{Tenant: tenant, Subject: c.Subject, Audience: c.Audience})
	})
}

// MintRequest is the dev IdP's POST /idp/token body.
type MintRequest struct {
	Tenant     string `json:"tenant"`
	Subject    string `json:"subject"`
	Audience   string `json:"audience,omitempty"`
	TTLSeconds int    `json:"ttl_seconds,omitempty"`
}

type mintResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

// MintToken asks the dev IdP at idpURL for a token. The token never appears
// in an error.
func MintToken(ctx context.Context, hc *http.Client, idpURL string, req MintRequest) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	endpoint := strings.TrimSuffix(idpURL, "/") + "/idp/token"
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("dev IdP: %w", err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	resp, err := hc.Do(r)
	if err != nil {
		return "", fmt.Errorf("dev IdP: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("dev IdP: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Code, Message string }
		_ = json.Unmarshal(data, &e)
		return "", fmt.Errorf("dev IdP %s: status %d %s %s", endpoint, resp.StatusCode, e.Code, e.Message)
	}
	var mr mintResponse
	if err := json.Unmarshal(data, &mr); err != nil || mr.Token == "" {
		return "", errors.New("dev IdP: answer carries no token")
	}
	return mr.Token, nil
}
