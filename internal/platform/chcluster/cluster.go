// Package chcluster runs a real ClickHouse cluster on one machine: one
// ZooKeeper (Debian's zookeeper package, Java) and shards × replicas
// ClickHouse servers on free loopback ports, in a folder of their own. The
// cluster tests and anyone who wants to try the product on a cluster use it;
// production clusters are configured by their operators (see
// docs/cluster.md).
package chcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Options configure Start.
type Options struct {
	// Dir holds ZooKeeper's and every node's files. Empty: a new temporary
	// folder, removed by Stop.
	Dir string
	// Name is the cluster name in remote_servers (default "adoptscope").
	Name string
	// Shards and Replicas per shard (default 2 and 2).
	Shards, Replicas int
	// StartTimeout bounds the start of each process (default 90 s).
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Node is one ClickHouse server of the cluster.
type Node struct {
	Shard, Replica int // 1-based
	Server         *chserver.Server
	opts           chserver.Options
}

// Name is the node's label in logs and test messages, e.g. "s1r2".
func (n *Node) Name() string { return fmt.Sprintf("s%dr%d", n.Shard, n.Replica) }

// Addr is the node's native-protocol address.
func (n *Node) Addr() string { return fmt.Sprintf("127.0.0.1:%d", n.opts.TCPPort) }

// Cluster is a running ZooKeeper plus its ClickHouse nodes.
type Cluster struct {
	Name          string
	Dir           string
	ZooKeeperAddr string
	Nodes         []*Node // shard-major: s1r1, s1r2, s2r1, ...

	removeDir bool
	zk        *exec.Cmd
	zkDone    chan error
	log       *slog.Logger
	mu        sync.Mutex
}

// ErrJavaMissing tells how to install what the cluster needs.
var ErrJavaMissing = errors.New(`ZooKeeper for the test cluster needs Java and Debian's zookeeper package: sudo apt-get install -y zookeeper`)

const zkClasspath = "/usr/share/java/*"

// Start launches ZooKeeper and the nodes and returns once every node
// answers and sees ZooKeeper. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Name == "" {
		opts.Name = "adoptscope"
	}
	if !store.ValidIdent(opts.Name) {
		return nil, fmt.Errorf("cluster name %q: use letters, digits and underscores", opts.Name)
	}
	if opts.Shards == 0 {
		opts.Shards = 2
	}
	if opts.Replicas == 0 {
		opts.Replicas = 2
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 90 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, ErrJavaMissing
	}
	if m, _ := filepath.Glob("/usr/share/java/zookeeper*.jar"); len(m) == 0 {
		return nil, ErrJavaMissing
	}
	c := &Cluster{Name: opts.Name, Dir: opts.Dir, log: opts.Logger}
	if c.Dir == "" {
		d, err := os.MkdirTemp("", "adoptscope-cluster-")
		if err != nil {
			return nil, err
		}
		c.Dir, c.removeDir = d, true
	}
	n := opts.Shards * opts.Replicas
	ports, err := chserver.FreePorts(1 + 3*n)
	if err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.startZooKeeper(ctx, ports[0], opts.StartTimeout); err != nil {
		c.Stop()
		return nil, err
	}
	for s := 1; s <= opts.Shards; s++ {
		for r := 1; r <= opts.Replicas; r++ {
			i := len(c.Nodes)
			nd := &Node{Shard: s, Replica: r}
			nd.opts = chserver.Options{
				Dir:          filepath.Join(c.Dir, nd.Name()),
				StartTimeout: opts.StartTimeout,
				Logger:       opts.Logger,
				TCPPort:      ports[1+3*i],
				HTTPPort:     ports[2+3*i],
			}
			c.Nodes = append(c.Nodes, nd)
		}
	}
	for i, nd := range c.Nodes {
		nd.opts.ExtraConfig = c.nodeConfig(nd, ports[3+3*i])
		nd.opts.ExtraProfiles = ddlProfile
		nd.opts.DefaultSettings = clusterSettings
	}
	errs := make(chan error, len(c.Nodes))
	for _, nd := range c.Nodes {
		go func(nd *Node) {
			s, err := chserver.Start(ctx, nd.opts)
			if err != nil {
				errs <- fmt.Errorf("node %s: %w", nd.Name(), err)
				return
			}
			c.mu.Lock()
			nd.Server = s
			c.mu.Unlock()
			errs <- nil
		}(nd)
	}
	var all []error
	for range c.Nodes {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		c.Stop()
		return nil, err
	}
	for _, nd := range c.Nodes {
		if err := c.waitReady(ctx, nd, opts.StartTimeout); err != nil {
			c.Stop()
			return nil, err
		}
	}
	opts.Logger.Info("ClickHouse cluster started", "name", c.Name, "dir", c.Dir, "zookeeper", c.ZooKeeperAddr, "nodes", len(c.Nodes))
	return c, nil
}

// ddlProfile is the settings profile ON CLUSTER DDL runs with on each node:
// the DDL worker does not carry the initiating query's settings, so 18.x
// needs LowCardinality allowed here (newer servers allow it by default).
const ddlProfile = `    <ddl>
      <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
    </ddl>
`

// clusterSettings are the default profile's settings on every node, as the
// docs/cluster.md recommends for the product's user: reads and writes through a
// Distributed table go to the first healthy replica of each shard (in the
// order of remote_servers, never "the local one first"), so an event_id
// written by one ingest instance is visible to the next lookup of any other
// instance without waiting for replication; when that replica is down both
// move to the next.
const clusterSettings = `      <load_balancing>in_order</load_balancing>
      <prefer_localhost_replica>0</prefer_localhost_replica>
`

// nodeConfig is the cluster part of a node's server config.
func (c *Cluster) nodeConfig(nd *Node, interserverPort int) string {
	var b strings.Builder
	host, port, _ := net.SplitHostPort(c.ZooKeeperAddr)
	fmt.Fprintf(&b, `  <zookeeper>
    <node><host>%s</host><port>%s</port></node>
    <session_timeout_ms>6000</session_timeout_ms>
  </zookeeper>
  <remote_servers>
    <%s>
`, host, port, c.Name)
	shard := 0
	for _, o := range c.Nodes {
		if o.Shard != shard {
			if shard != 0 {
				b.WriteString("      </shard>\n")
			}
			shard = o.Shard
			b.WriteString("      <shard>\n        <internal_replication>true</internal_replication>\n")
		}
		fmt.Fprintf(&b, "        <replica><host>127.0.0.1</host><port>%d</port></replica>\n", o.opts.TCPPort)
	}
	fmt.Fprintf(&b, `      </shard>
    </%s>
  </remote_servers>
  <macros>
    <shard>%02d</shard>
    <replica>r%d</replica>
  </macros>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>%d</interserver_http_port>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
    <profile>ddl</profile>
  </distributed_ddl>
`, c.Name, nd.Shard, nd.Replica, interserverPort)
	return b.String()
}

func (c *Cluster) startZooKeeper(ctx context.Context, port int, timeout time.Duration) error {
	dir := filepath.Join(c.Dir, "zookeeper")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`tickTime=500
initLimit=10
syncLimit=5
dataDir=%s/data
clientPort=%d
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
maxSessionTimeout=60000
`, dir, port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o640); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-cp", zkClasspath,
		"-Dzookeeper.log.dir="+dir, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start ZooKeeper: %w", err)
	}
	c.zk = cmd
	c.zkDone = make(chan error, 1)
	go func() { c.zkDone <- cmd.Wait(); out.Close() }()
	c.ZooKeeperAddr = fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(timeout)
	for {
		if ruok(c.ZooKeeperAddr) {
			return nil
		}
		select {
		case err := <-c.zkDone:
			c.zkDone <- err
			b, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
			return fmt.Errorf("ZooKeeper exited during start (%v): %s", err, tail(string(b)))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ZooKeeper on %s did not answer within %s; see %s", c.ZooKeeperAddr, timeout, dir)
		}
	}
}

func ruok(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("ruok")); err != nil {
		return false
	}
	buf := make([]byte, 4)
	n, _ := conn.Read(buf)
	return string(buf[:n]) == "imok"
}

// waitReady waits until the node reads ZooKeeper (the replicated tables and
// ON CLUSTER DDL need it).
func (c *Cluster) waitReady(ctx context.Context, nd *Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		last = c.query(ctx, nd, "SELECT count() FROM system.zookeeper WHERE path = '/'")
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("node %s does not reach ZooKeeper: %w", nd.Name(), last)
}

func (c *Cluster) query(ctx context.Context, nd *Node, q string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := store.Open(ctx, store.Config{Addr: nd.Addr(), Database: "default", User: "default", DialTimeout: 2 * time.Second, MaxOpenConns: 1}, c.log)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Conn.Exec(ctx, q)
}

// FirstReplicas lists the index of the first replica of every shard. The
// docs/cluster.md recommends pointing instances at these (any of them) with the
// rest of their shard as fallback: with load_balancing in_order, every
// instance then writes and reads each shard on the same replica, so one
// instance sees another's writes at once.
func (c *Cluster) FirstReplicas() []int {
	var out []int
	for i, nd := range c.Nodes {
		if nd.Replica == 1 {
			out = append(out, i)
		}
	}
	return out
}

// Config is the store configuration for database db through node i.
func (c *Cluster) Config(i int, db string) store.Config {
	return store.Config{Addr: c.Nodes[i].Addr(), Database: db, User: "default", Cluster: c.Name}
}

// Kill ends node i at once, as a crash would.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	s := c.Nodes[i].Server
	c.Nodes[i].Server = nil
	c.mu.Unlock()
	if s != nil {
		s.Kill()
	}
}

// Restart starts node i again on its folder and ports (after Kill).
func (c *Cluster) Restart(ctx context.Context, i int) error {
	nd := c.Nodes[i]
	s, err := chserver.Start(ctx, nd.opts)
	if err != nil {
		return fmt.Errorf("restart node %s: %w", nd.Name(), err)
	}
	c.mu.Lock()
	nd.Server = s
	c.mu.Unlock()
	return c.waitReady(ctx, nd, nd.opts.StartTimeout)
}

// Stop stops every node and ZooKeeper, and removes the folder when Start
// made it.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	c.mu.Lock()
	for _, nd := range c.Nodes {
		if nd.Server != nil {
			wg.Add(1)
			go func(s *chserver.Server) { defer wg.Done(); _ = s.Stop() }(nd.Server)
			nd.Server = nil
		}
	}
	c.mu.Unlock()
	wg.Wait()
	if c.zk != nil && c.zk.Process != nil {
		_ = c.zk.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-c.zkDone:
			c.zkDone <- err
		case <-time.After(10 * time.Second):
			_ = c.zk.Process.Kill()
			err := <-c.zkDone
			c.zkDone <- err
		}
	}
	if c.removeDir {
		_ = os.RemoveAll(c.Dir)
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
