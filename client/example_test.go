package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tvmkit/tvm/client"
)

// A service configures its AWS clients with broker-vended credentials. The
// cache refreshes them five minutes before they expire; the token file is
// re-read whenever it changes.
func Example() {
	creds := client.NewCached("http://127.0.0.1:8080", client.FileToken("/var/run/secrets/tvm/token"),
		func(o *client.Options) { o.Profile = "read" })
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(creds))
	if err != nil {
		log.Fatal(err)
	}
	_ = dynamodb.NewFromConfig(cfg)
}

func ExampleNew() {
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"Version": 1, "AccessKeyId": "ASIAEXAMPLE000000001", "SecretAccessKey": "secret",
			"SessionToken": "token", "Expiration": time.Now().Add(time.Hour).Format(time.RFC3339),
		})
	}))
	defer broker.Close()

	p := client.New(broker.URL, client.StaticToken("header.payload.signature"))
	var provider aws.CredentialsProvider = client.Cached(p)
	creds, err := provider.Retrieve(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(creds.Source, creds.CanExpire, creds.AccessKeyID[len(creds.AccessKeyID)-4:])
	// Output: tvm-broker true 0001
}
