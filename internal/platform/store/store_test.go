package store

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestOpenUnreachableNamesAddressWithinDeadline(t *testing.T) {
	// A listener that accepts and never answers: the worst case, a
	// firewall that swallows packets behaves the same for the client.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	addr := l.Addr().String()
	start := time.Now()
	_, err = Open(context.Background(), Config{Addr: addr, DialTimeout: time.Second}, nil)
	if err == nil {
		t.Fatal("Open succeeded against a silent listener")
	}
	if !strings.Contains(err.Error(), addr) {
		t.Fatalf("error does not name %s: %v", addr, err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("Open took %s, far past its 1s deadline", took)
	}
}

func TestOpenRejectsBadNames(t *testing.T) {
	for _, c := range []Config{
		{Addr: "127.0.0.1:1", Database: "a;DROP TABLE x"},
		{Addr: "127.0.0.1:1", Cluster: "c` x"},
	} {
		if _, err := Open(context.Background(), c, nil); err == nil || !strings.Contains(err.Error(), "letters, digits") {
			t.Fatalf("Open(%+v) = %v", c, err)
		}
	}
}

func TestFeaturesByVersion(t *testing.T) {
	old := FeaturesOf(Version{18, 16, 1})
	if old.Codecs || old.TTL || old.WindowFunctions || old.LowCardinalityGA {
		t.Fatalf("18.16 features = %+v, want none", old)
	}
	cur := FeaturesOf(Version{25, 8, 2})
	if !cur.Codecs || !cur.TTL || !cur.WindowFunctions || !cur.AsyncInsert || !cur.LowCardinalityGA {
		t.Fatalf("25.8 features = %+v", cur)
	}
}
