#!/usr/bin/env python3
"""The TLS side of the testbed's nginx: serves CERT (leaf, then any intermediates) with KEY
on 127.0.0.1:PORT, and reads both files again only when asked to reload, as nginx's master
does on `nginx -s reload`. The request is the file CONTROL/reload, which the container's
`nginx -s reload` stand-in writes (CONTROL is mounted at /run/nginx-master). A reload whose
files do not load keeps the old certificate, as nginx keeps its old configuration. Each
reload taken is counted in CONTROL/reloads.

usage: tls-master.py PORT CERT KEY CONTROL
"""
import os
import select
import socket
import ssl
import sys


def load(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def main():
    port, cert, key, control = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    context = load(cert, key)
    reloads = 0
    request = os.path.join(control, "reload")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    print(f"tls-master: serving {cert} on 127.0.0.1:{port}", flush=True)
    while True:
        if os.path.exists(request):
            os.unlink(request)
            try:
                context = load(cert, key)
                reloads += 1
                print(f"tls-master: reload {reloads}: {cert} loaded", flush=True)
            except (OSError, ssl.SSLError) as error:
                print(f"tls-master: reload failed, the old certificate stays: {error}", flush=True)
            with open(os.path.join(control, "reloads.tmp"), "w") as out:
                out.write(str(reloads))
            os.replace(os.path.join(control, "reloads.tmp"), os.path.join(control, "reloads"))
        ready, _, _ = select.select([listener], [], [], 0.05)
        if not ready:
            continue
        connection, _ = listener.accept()
        connection.settimeout(5)
        try:
            with context.wrap_socket(connection, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        except (OSError, ssl.SSLError):
            connection.close()


if __name__ == "__main__":
    main()
