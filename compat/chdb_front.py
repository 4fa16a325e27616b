#!/usr/bin/env python3
"""A ClickHouse HTTP interface in front of chDB, for the 26.9 compatibility suite.

chDB (PyPI chdb-core) is ClickHouse 26.9 as an in-process library: it has the
engine, no server. This process owns one chDB session (chDB allows one data
path per process and one process per path) and answers the subset of
ClickHouse's HTTP protocol that clickhouse-go v2's HTTP transport speaks, so
that the product's store, unchanged but for ADOPTSCOPE_CLICKHOUSE_PROTOCOL=http,
runs its own statements here. Standard library only, besides chdb.

What it speaks (modelled on the server's HTTP handler, port 8123):
  GET /ping                         "Ok."
  POST / body=SQL                   runs the SQL
  POST /?query=INSERT ... FORMAT F  body = the data in format F (clickhouse-go
                                    sends Native, possibly chunked)
  multipart/form-data               external tables: <name>_structure and
                                    <name>_format in the URL, one file part per
                                    table and the query in the field "query";
                                    each becomes a temporary table for the query
  ?database=, ?default_format=      the database (USE) and the output format
  ?param_x=                         {x:Type} query parameters
  ?k=v otherwise                    a setting for this request only
  errors                            status 500 (404 unknown table or setting,
                                    400 syntax), body "Code: N. DB::Exception ...",
                                    header X-ClickHouse-Exception-Code

Native revision. A ClickHouse server writes Native results in the layout of
the client_protocol_version the client sends (block info and a serialization
byte per column); chDB's Native output is the layout of revision 0, which is
what a server writes to a client that sends no version. clickhouse-go reads
the revision it must decode from its hello query ("SELECT displayName(),
version(), revision(), timezone()", decoded at its own revision); the front
answers that query itself, encoded at the client's revision, and reports
revision 0, so every later result is decoded as what it is.

GET /front/stats answers the count of statements run and failed (the suite
prints it). --log writes every statement, one JSON object per line.

Run: python chdb_front.py --path DIR --port N [--log FILE] [--parallel-views]
"""
import argparse
import email.parser
import email.policy
import json
import re
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb.session import Session

HELLO = "SELECT displayName(), version(), revision(), timezone()"
# URL parameters of the HTTP interface that are not settings.
RESERVED = {"query", "database", "default_format", "user", "password", "query_id",
            "quota_key", "session_id", "session_timeout", "session_check", "compress",
            "decompress", "enable_http_compression", "wait_end_of_query", "buffer_size",
            "client_protocol_version"}
INSERT_FORMAT_RE = re.compile(r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+([A-Za-z0-9_]+)\s*$",
                              re.IGNORECASE | re.DOTALL)
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NUMBER_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
CODE_RE = re.compile(r"Code: (\d+)\.")
STRUCTURE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]* [A-Za-z0-9_(), ]+(, [A-Za-z_][A-Za-z0-9_]* [A-Za-z0-9_(), ]+)*$")
# Exception codes answered with 404 and 400 by the server's HTTP handler.
NOT_FOUND = {"60", "81", "115"}
BAD_REQUEST = {"62", "456", "457"}


class FrontError(Exception):
    """A request the front does not speak: answered like a server error."""

    def __init__(self, code, msg):
        super().__init__(f"Code: {code}. DB::Exception: {msg}. (chdb_front)")


def quote(v):
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def native_string(s):
    b = s.encode("utf-8")
    return uvarint(len(b)) + b


def hello_block(display_name, version, tz):
    """One Native block at a client revision > 0: block info, then each column
    with its serialization byte (0: default). Revision 0 is reported."""
    info = b"\x01\x00\x02\xff\xff\xff\xff\x00"  # is_overflows=0, bucket_num=-1, end
    cols = [("displayName()", "String", native_string(display_name)),
            ("version()", "String", native_string(version)),
            ("revision()", "UInt32", struct.pack("<I", 0)),
            ("timezone()", "String", native_string(tz))]
    out = info + uvarint(len(cols)) + uvarint(1)
    for name, typ, data in cols:
        out += native_string(name) + native_string(typ) + b"\x00" + data
    return out


class Front:
    def __init__(self, path, log_path, parallel_views):
        self.session = Session(path)
        self.lock = threading.Lock()
        self.statements = 0
        self.failed = 0
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        # With parallel_views the views of one table run at once, so nothing
        # may depend on their order.
        self.parallel_views = parallel_views
        self.database, self.settings = None, {}

    def record(self, sql, database, err, seconds):
        self.statements += 1
        if err is not None:
            self.failed += 1
        if self.log:
            self.log.write(json.dumps({"database": database, "sql": sql, "error": err, "ms": round(seconds * 1000, 2)}) + "\n")
            self.log.flush()

    def apply(self, database, settings):
        """Bring the session to database and exactly these settings. Only
        what differs from the previous request is sent: a SET costs as much
        as a small query."""
        s = self.session
        if database != self.database:
            s.query("USE " + database)
            self.database = database
        for k in [k for k in self.settings if k not in settings]:
            s.query(f"SET {k} = DEFAULT")
            del self.settings[k]
        if self.parallel_views and "parallel_view_processing" not in settings:
            settings = dict(settings, parallel_view_processing="1")
        for k, v in settings.items():
            if self.settings.get(k) != v:
                s.query(f"SET {k} = {v if NUMBER_RE.match(v) else quote(v)}")
                self.settings[k] = v

    def run(self, sql, data, fmt, database, settings, params, externals):
        s = self.session
        with self.lock:
            err = None
            temps = []
            start = time.perf_counter()
            try:
                try:
                    self.apply(database, settings)
                except Exception:
                    self.database, self.settings = None, {}  # unknown state: reset next time
                    raise
                for name, structure, fmt_in, payload in externals:
                    s.query(f"CREATE TEMPORARY TABLE {name} ({structure})")
                    temps.append(name)
                    if payload:
                        with s.send_insert(f"INSERT INTO {name}", fmt_in) as ins:
                            ins.append(payload)
                            ins.finish()
                if sql.strip() == HELLO:
                    r = s.query("SELECT displayName(), version(), timezone()", "TabSeparated")
                    name, version, tz = r.bytes().decode().rstrip("\n").split("\t")
                    return hello_block(name, version, tz)
                m = INSERT_FORMAT_RE.match(sql) if data else None
                if m:
                    with s.send_insert(m.group(1), m.group(2)) as ins:
                        ins.append(data)
                        ins.finish()
                    return b""
                if data:  # INSERT ... VALUES with the rows in the body
                    sql = sql + "\n" + data.decode("utf-8")
                return s.query(sql, fmt, params=params or None).bytes()
            except Exception as e:  # chdb raises ChdbError (a RuntimeError)
                err = str(e)
                raise
            finally:
                if sql.strip() != HELLO:  # the driver's, not the product's
                    self.record(sql, database, err, time.perf_counter() - start)
                for name in temps:
                    try:
                        s.query(f"DROP TEMPORARY TABLE IF EXISTS {name}")
                    except Exception:
                        pass


def read_body(handler):
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            line = handler.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline()
    n = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(n) if n else b""


def parse_multipart(ctype, body):
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    fields = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = part.get_payload(decode=True) or b""
    return fields


class Handler(BaseHTTPRequestHandler):
    front = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, payload, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if status == 200 else "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def handle_request(self, body):
        u = urlsplit(self.path)
        if u.path in ("/ping", "/ping/"):
            return self.send(200, b"Ok.\n")
        if u.path == "/front/stats":
            f = self.front
            return self.send(200, json.dumps({"statements": f.statements, "failed": f.failed}).encode())
        if u.path not in ("/", ""):
            return self.send(404, b"There is no handle " + u.path.encode() + b"\n")
        qs = dict(parse_qsl(u.query, keep_blank_values=True))
        try:
            if qs.get("compress") == "1" or qs.get("decompress") == "1":
                raise FrontError(1, "the chDB front speaks no native block compression over HTTP; use compression none")
            externals = []
            sql = qs.get("query")
            data = b""
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("multipart/form-data"):
                fields = parse_multipart(ctype, body)
                sql = fields.pop("query", b"").decode("utf-8")
                for name, payload in fields.items():
                    structure = qs.get(name + "_structure", "")
                    if not IDENT_RE.match(name or "") or not STRUCTURE_RE.match(structure):
                        raise FrontError(1, f"external table {name!r}: bad name or structure {structure!r}")
                    externals.append((name, structure, qs.get(name + "_format", "TabSeparated"), payload))
            elif sql is None:
                sql = body.decode("utf-8")
            else:
                data = body
            if not sql.strip():
                raise FrontError(62, "Empty query")
            database = qs.get("database") or "default"
            if not IDENT_RE.match(database):
                raise FrontError(81, f"database {database!r}: not an identifier")
            fmt = qs.get("default_format") or "TabSeparated"
            params = {k[6:]: v for k, v in qs.items() if k.startswith("param_")}
            settings = {k: v for k, v in qs.items()
                        if k not in RESERVED and not k.startswith("param_") and IDENT_RE.match(k)
                        and not k.endswith("_structure") and not k.endswith("_format")}
            out = self.front.run(sql, data, fmt, database, settings, params, externals)
        except Exception as e:
            msg = str(e).strip()
            m = CODE_RE.search(msg)
            code = m.group(1) if m else "1001"
            status = 404 if code in NOT_FOUND else 400 if code in BAD_REQUEST else 500
            return self.send(status, (msg + "\n").encode(), {"X-ClickHouse-Exception-Code": code})
        self.send(200, out, {"X-ClickHouse-Format": qs.get("default_format") or "TabSeparated"})

    def do_GET(self):
        self.handle_request(b"")

    def do_POST(self):
        self.handle_request(read_body(self))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", required=True, help="chDB data folder")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", help="append every statement to this file (JSON lines)")
    ap.add_argument("--parallel-views", action="store_true",
                    help="SET parallel_view_processing = 1 for every statement")
    a = ap.parse_args()
    Handler.front = Front(a.path, a.log, a.parallel_views)
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    print(f"chdb_front listening on http://{a.host}:{a.port}/", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        Handler.front.session.close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
