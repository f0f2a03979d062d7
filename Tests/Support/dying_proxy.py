"""A TCP proxy that dies mid-upload, for tests: a registry that goes away while a blob is sent.

Usage: dying_proxy.py TARGET_PORT CUTOFF_BYTES

Listens on 127.0.0.1 (a free port, printed on the first line of standard output) and
forwards each connection to 127.0.0.1:TARGET_PORT as it is, TLS included. Once the bytes
sent towards the target over all connections pass CUTOFF_BYTES, it closes every connection
and stops listening, as a registry killed mid-upload would.
"""
import socket
import sys
import threading

target_port, cutoff = int(sys.argv[1]), int(sys.argv[2])
sent = 0
lock = threading.Lock()
connections = []
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(listener.getsockname()[1], flush=True)


def die():
    for connection in connections:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        connection.close()
    listener.close()


def pump(source, sink, upstream):
    global sent
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if upstream:
                with lock:
                    sent += len(data)
                    if sent > cutoff:
                        die()
                        return
            sink.sendall(data)
    except OSError:
        pass
    for end in (source, sink):
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


while True:
    try:
        client, _ = listener.accept()
    except OSError:
        break
    server = socket.create_connection(("127.0.0.1", target_port))
    with lock:
        connections.extend([client, server])
    threading.Thread(target=pump, args=(client, server, True), daemon=True).start()
    threading.Thread(target=pump, args=(server, client, False), daemon=True).start()
