// Package storetest gives tests a real PostgreSQL database: a fresh one per
// test on the server scripts/test.sh starts (scripts/lib/postgres.sh).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresURL creates an empty database on the server named by
// DRYDOCK_TEST_POSTGRES and returns its URL; it is dropped when the test
// ends. Without the variable the test skips (and fails under CI=true).
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("DRYDOCK_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DRYDOCK_TEST_POSTGRES is not set: PostgreSQL is needed (run ./scripts/test.sh, which starts Debian's postgresql)")
		}
		t.Skip("PostgreSQL: DRYDOCK_TEST_POSTGRES is not set (run ./scripts/test.sh, which starts Debian's postgresql)")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "drydock_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
