package chserver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeConfig writes a minimal config that both 18.16 and current releases
// accept: 18.16 ignores the root element name, modern releases want
// <clickhouse>.
//
// extra is XML placed inside the root element as is (cluster sections:
// zookeeper, remote_servers, macros, interserver_http_port,
// distributed_ddl); empty for a single server.
// defaultSettings is XML added to the default profile; it may set
// load_balancing (random otherwise).
// extraProfiles is XML placed inside users.xml's <profiles> (a cluster's
// distributed_ddl profile); empty for a single server.
// password is the default user's (stored as its SHA-256, which 18.16
// accepts); empty: none. httpPort 0: no HTTP interface.
func writeConfig(dir string, tcpPort, httpPort int, password, extra, extraProfiles, defaultSettings string) (string, error) {
	for _, sub := range []string{"data", "tmp", "user_files", "log", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return "", err
		}
	}
	if !strings.Contains(defaultSettings, "<load_balancing>") {
		defaultSettings = "      <load_balancing>random</load_balancing>\n" + defaultSettings
	}
	users := `<?xml version="1.0"?>
<clickhouse>
  <profiles>
    <default>
      <max_memory_usage>8000000000</max_memory_usage>
` + defaultSettings + `    </default>
` + extraProfiles + `  </profiles>
  <users>
    <default>
      ` + passwordXML(password) + `
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default>
  </quotas>
</clickhouse>
`
	usersPath := filepath.Join(dir, "users.xml")
	// Rewritten at every start: a folder written by a version without a
	// password gets one, and a changed password file takes effect. 0600:
	// the hash of the password is no one else's business.
	if err := writeFile0600(usersPath, []byte(users)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<clickhouse>
  <logger>
    <level>warning</level>
    <log>%[1]s/log/clickhouse-server.log</log>
    <errorlog>%[1]s/log/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
%[3]s  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[4]s</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
%[5]s</clickhouse>
`, dir, tcpPort, httpPortXML(httpPort), usersPath, extra)
	cfgPath := filepath.Join(dir, "config.xml")
	return cfgPath, os.WriteFile(cfgPath, []byte(b.String()), 0o640)
}

func passwordXML(password string) string {
	if password == "" {
		return "<password></password>"
	}
	sum := sha256.Sum256([]byte(password))
	return "<password_sha256_hex>" + hex.EncodeToString(sum[:]) + "</password_sha256_hex>"
}

func httpPortXML(port int) string {
	if port == 0 {
		return ""
	}
	return fmt.Sprintf("  <http_port>%d</http_port>\n", port)
}

// writeFile0600 replaces path with data, readable by the owner only (also
// when an earlier version created it with wider permissions).
func writeFile0600(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
