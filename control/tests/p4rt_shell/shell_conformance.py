"""Drives switch-sim's P4Runtime server with p4runtime-shell (PyPI), an
independent client: connect, read the P4Info, insert / read back / modify /
insert again (must fail) / delete a connection entry. Prints one JSON object:
what the shell saw at each step, with read-back entries as hex-encoded
p4.v1.TableEntry bytes so the Rust test can compare them with its own client.

usage: shell_conformance.py HOST:PORT [CA CERT KEY]
With CA, CERT and KEY (PEM files) the shell connects over mutual TLS
(p4runtime-shell's SSLOptions), else over plain gRPC.
"""
import json
import sys

import p4runtime_sh.shell as sh
from p4runtime_sh.p4runtime import P4RuntimeWriteException, SSLOptions

TABLE = "SwitchyardIngress.connection"
ACTION = "SwitchyardIngress.set_conn_backend"


def read_conn():
    return sorted(e.msg().SerializeToString().hex() for e in sh.TableEntry(TABLE).read())


def entry(backend):
    te = sh.TableEntry(TABLE)(action=ACTION)
    te.match["client_addr"] = "198.18.1.5"
    te.match["client_port"] = "40000"
    te.match["vip_id"] = "7"
    te.action["backend_index"] = str(backend)
    return te


def main():
    addr = sys.argv[1]
    ssl = SSLOptions(False, *sys.argv[2:5]) if len(sys.argv) >= 5 else None
    sh.setup(device_id=1, grpc_addr=addr, election_id=(1, 0), ssl_options=ssl, verbose=False)
    out = {}
    info = sh.context.p4info
    out["tables"] = sorted([t.preamble.name, t.preamble.id] for t in info.tables)
    out["actions"] = sorted([a.preamble.name, a.preamble.id] for a in info.actions)
    te = entry(3)
    te.insert()
    out["after_insert"] = read_conn()
    te = entry(4)
    te.modify()
    out["after_modify"] = read_conn()
    try:
        entry(5).insert()
        out["duplicate_insert"] = "accepted"
    except P4RuntimeWriteException as e:
        out["duplicate_insert"] = [str(code) for _, code in [(i, err.canonical_code) for i, err in e.errors]]
    entry(4).delete()
    out["after_delete"] = read_conn()
    sh.teardown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
