package dynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// schemaCache caches key schemas fetched from the backend with an internal,
// unauthenticated DescribeTable (the backend is reachable only through the
// gateway, so it is trusted). Entries are invalidated when a CreateTable,
// UpdateTable or DeleteTable passes through; a per-table generation counter
// keeps a fetch that raced with an invalidation from storing a stale schema.
// Only existing tables are cached. Safe for concurrent use.
type schemaCache struct {
	backend http.Handler
	log     *slog.Logger

	mu      sync.Mutex
	entries map[string]*TableSchema
	gen     map[string]uint64
}

func newSchemaCache(backend http.Handler, log *slog.Logger) *schemaCache {
	return &schemaCache{backend: backend, log: log, entries: map[string]*TableSchema{}, gen: map[string]uint64{}}
}

// lookup returns the schema of table, (nil, nil) when it does not exist.
func (c *schemaCache) lookup(ctx context.Context, table string) (*TableSchema, error) {
	c.mu.Lock()
	if s, ok := c.entries[table]; ok {
		c.mu.Unlock()
		return s, nil
	}
	g := c.gen[table]
	c.mu.Unlock()

	s, err := c.fetch(ctx, table)
	if err != nil || s == nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen[table] == g {
		c.entries[table] = s
	}
	c.mu.Unlock()
	return s, nil
}

func (c *schemaCache) invalidate(table string) {
	c.mu.Lock()
	delete(c.entries, table)
	c.gen[table]++
	c.mu.Unlock()
}

// describeTableOutput is the part of DescribeTable's response the gateway needs.
type describeTableOutput struct {
	Table struct {
		KeySchema              []keySchemaElement `json:"KeySchema"`
		GlobalSecondaryIndexes []indexDescription `json:"GlobalSecondaryIndexes"`
		LocalSecondaryIndexes  []indexDescription `json:"LocalSecondaryIndexes"`
	} `json:"Table"`
}

type keySchemaElement struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type indexDescription struct {
	IndexName string             `json:"IndexName"`
	KeySchema []keySchemaElement `json:"KeySchema"`
}

func toKeySchema(elems []keySchemaElement) (KeySchema, error) {
	var ks KeySchema
	for _, e := range elems {
		switch e.KeyType {
		case "HASH":
			ks.PartitionKey = e.AttributeName
		case "RANGE":
			ks.SortKey = e.AttributeName
		}
	}
	if ks.PartitionKey == "" {
		return ks, fmt.Errorf("key schema has no HASH key")
	}
	return ks, nil
}

func (c *schemaCache) fetch(ctx context.Context, table string) (*TableSchema, error) {
	body, err := json.Marshal(map[string]string{"TableName": table})
	if err != nil {
		return nil, errInternal()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://backend.invalid/", bytes.NewReader(body))
	if err != nil {
		return nil, errInternal()
	}
	req.Header.Set("X-Amz-Target", TargetPrefix+"DescribeTable")
	req.Header.Set("Content-Type", contentTypeJSON10)
	rec := newResponseBuffer()
	c.backend.ServeHTTP(rec, req)

	if rec.code() != http.StatusOK {
		var e struct {
			Type string `json:"__type"`
		}
		if json.Unmarshal(rec.body.Bytes(), &e) == nil && strings.HasSuffix(e.Type, CodeResourceNotFound) {
			return nil, nil
		}
		c.log.ErrorContext(ctx, "dynamodb gateway: schema lookup failed", slog.String("table", table),
			slog.Int("status", rec.code()), slog.String("body", truncate(rec.body.String(), 256)))
		return nil, errInternal()
	}
	var out describeTableOutput
	if err := json.Unmarshal(rec.body.Bytes(), &out); err != nil {
		c.log.ErrorContext(ctx, "dynamodb gateway: bad DescribeTable response", slog.String("table", table), slog.Any("error", err))
		return nil, errInternal()
	}
	s := &TableSchema{Indexes: map[string]KeySchema{}}
	if s.KeySchema, err = toKeySchema(out.Table.KeySchema); err != nil {
		c.log.ErrorContext(ctx, "dynamodb gateway: bad table key schema", slog.String("table", table), slog.Any("error", err))
		return nil, errInternal()
	}
	for _, ix := range append(out.Table.GlobalSecondaryIndexes, out.Table.LocalSecondaryIndexes...) {
		ks, err := toKeySchema(ix.KeySchema)
		if err != nil {
			c.log.ErrorContext(ctx, "dynamodb gateway: bad index key schema", slog.String("table", table),
				slog.String("index", ix.IndexName), slog.Any("error", err))
			return nil, errInternal()
		}
		s.Indexes[ix.IndexName] = ks
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
