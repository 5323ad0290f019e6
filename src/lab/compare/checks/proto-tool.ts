/**
 * A small protocol tool run inside endpoints by the checks: Debian's python3 speaks TCP, UDP,
 * SCTP and a raw IP protocol (253, "for experimentation", RFC 3692) with the kernel's own
 * sockets, which Node cannot do for SCTP or raw IP. Arguments only, never a shell.
 *   serve PROTO ADDR PORT   prints "listening", then "got PEER" (echoing "echo:DATA" back)
 *   sink  tcp ADDR PORT     prints "listening", then "got PEER BYTES" after the peer closes
 *   send  PROTO ADDR PORT MSG [REPEAT]  prints the echo (tcp/udp/sctp) or "sent" (raw)
 */
export const PYTHON = '/usr/bin/python3';
export const RAW_PROTO = 253;

const SCRIPT = `
import socket, sys
mode, proto, addr, port = sys.argv[1:5]
msg = (sys.argv[5] if len(sys.argv) > 5 else "").encode()
rep = int(sys.argv[6]) if len(sys.argv) > 6 else 1
kinds = {"tcp": (socket.SOCK_STREAM, 0), "udp": (socket.SOCK_DGRAM, 0), "sctp": (socket.SOCK_STREAM, 132), "raw": (socket.SOCK_RAW, ${RAW_PROTO})}
t, pr = kinds[proto]
try:
    s = socket.socket(socket.AF_INET, t, pr)
except OSError as e:
    print("socket:", e.strerror, flush=True); sys.exit(3)
s.settimeout(8)
if mode in ("serve", "sink"):
    if proto == "raw":
        print("listening", flush=True)
        while True:
            d, a = s.recvfrom(65535)
            if b"weft-cmp" in d:
                print("got", a[0], flush=True); break
    else:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        if t == socket.SOCK_STREAM:
            s.listen(4); print("listening", flush=True)
            c, a = s.accept(); c.settimeout(20)
            if mode == "sink":
                n = 0
                while True:
                    d = c.recv(65536)
                    if not d: break
                    n += len(d)
                print("got", a[0], n, flush=True)
            else:
                d = c.recv(200); c.sendall(b"echo:" + d); print("got", a[0], flush=True)
        else:
            print("listening", flush=True)
            d, a = s.recvfrom(200); s.sendto(b"echo:" + d, a); print("got", a[0], flush=True)
else:
    if proto == "raw":
        s.sendto(msg, (addr, 0)); print("sent")
    elif t == socket.SOCK_STREAM:
        s.connect((addr, int(port))); s.sendall(msg * rep)
        if rep > 1:
            s.close(); print("sent", len(msg) * rep)
        else:
            print(s.recv(200).decode())
    else:
        s.sendto(msg, (addr, int(port))); print(s.recvfrom(200)[0].decode())
`;

export type ProtoName = 'tcp' | 'udp' | 'sctp' | 'raw';

export const protoServe = (mode: 'serve' | 'sink', proto: ProtoName, addr: string, port: number): string[] => [
  PYTHON,
  '-c',
  SCRIPT,
  mode,
  proto,
  addr,
  String(port),
];

export const protoSend = (proto: ProtoName, addr: string, port: number, msg: string, repeat = 1): string[] => [
  PYTHON,
  '-c',
  SCRIPT,
  'send',
  proto,
  addr,
  String(port),
  msg,
  String(repeat),
];
