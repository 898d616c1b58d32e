#!/usr/bin/env python3
"""Prints an HS256 bearer token for hongbao-service, signed with $HONGBAO_JWT_SECRET (standard library only).

    sign-token.py MEMBER [--operator] [--seconds N]
    sign-token.py FIRST-LAST [--seconds N]      (one token a line, for members FIRST..LAST: wrk-grab.lua's tokens file)

sub is MEMBER in decimal, exp N seconds from now (default 3600), "role": "operator" with --operator."""
import argparse, base64, hashlib, hmac, json, os, sys, time

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("member")
    parser.add_argument("--operator", action="store_true")
    parser.add_argument("--seconds", type=int, default=3600)
    args = parser.parse_args()
    secret = os.environ.get("HONGBAO_JWT_SECRET")
    if not secret:
        sys.exit("sign-token.py: error: set HONGBAO_JWT_SECRET")
    try:
        first, last = (int(part) for part in args.member.split("-")) if "-" in args.member else (int(args.member),) * 2
    except ValueError:
        sys.exit(f"sign-token.py: error: MEMBER is a member id or a range FIRST-LAST, got {args.member}")
    if not 0 <= first <= last <= 2**32 - 1:
        sys.exit(f"sign-token.py: error: member ids are in 0 ... 4294967295, got {args.member}")
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    for member in range(first, last + 1):
        claims = {"sub": str(member), "exp": int(time.time()) + args.seconds}
        if args.operator:
            claims["role"] = "operator"
        signing = header + "." + b64(json.dumps(claims).encode())
        signature = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
        print(signing + "." + b64(signature))

if __name__ == "__main__":
    main()
