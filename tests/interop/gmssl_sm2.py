"""SM2 with SM3 (GB/T 32918.2) as gmssl (PyPI, MIT, by duanhongyi) computes it, for
tests/sm2_interop.rs: an implementation tracegate did not write.

  python gmssl_sm2.py verify PUBLIC_HEX SIGNATURE_HEX MESSAGE_HEX   -> "ok" or "bad"
  python gmssl_sm2.py sign SECRET_HEX PUBLIC_HEX MESSAGE_HEX        -> signature hex (r||s)

gmssl uses the default distinguishing identifier 1234567812345678 in Z_A, as tracegate does.
"""
import sys

from gmssl import sm2


def main(argv):
    verb = argv[1]
    if verb == "verify":
        public, signature, message = argv[2], argv[3], bytes.fromhex(argv[4])
        crypt = sm2.CryptSM2(public_key=public, private_key=None)
        print("ok" if crypt.verify_with_sm3(signature, message) else "bad")
    elif verb == "sign":
        secret, public, message = argv[2], argv[3], bytes.fromhex(argv[4])
        crypt = sm2.CryptSM2(public_key=public, private_key=secret)
        print(crypt.sign_with_sm3(message))
    else:
        raise SystemExit("usage: gmssl_sm2.py verify|sign …")


if __name__ == "__main__":
    main(sys.argv)
