"""The R2000 "CMD" protocol as pyImpinj (PyPI, by Heyn) builds and parses it, for
tests/r2000_interop.rs: tracegate's codec is checked against an implementation it did not
write.

    python pyimpinj_r2000.py requests        # the request frames pyImpinj builds, one per line
    python pyimpinj_r2000.py parse HEX...    # pyImpinj's reading of frames (JSON per line)
"""
import json
import queue
import sys

from pyImpinj import ImpinjProtocolFactory
from pyImpinj.protocol import ImpinjR2KProtocols


def requests():
    # Address 1, as a module configured with address 1 is driven.
    p = ImpinjR2KProtocols(address=0x01)
    out = {
        "get_firmware_version": p.version(),
        "set_work_antenna_2": p.set_work_antenna(1),
        "set_output_power_27": p.fast_power(27),
        "real_time_inventory_1": p.rt_inventory(1),
        "session_inventory_s2_b_1": p.session_inventory("S2", "B", 1),
    }
    for name, frame in out.items():
        print(name, frame.hex().upper())


def parse(frames):
    packages, commands = queue.Queue(), queue.Queue()
    factory = ImpinjProtocolFactory(packages, commands, address=0x01)
    for frame in frames:
        factory.data_received(bytes.fromhex(frame))
    while not packages.empty():
        print(json.dumps(packages.get()))
    while not commands.empty():
        c = commands.get()
        print(json.dumps({"type": "COMMAND", "command": c["command"], "data": c["data"].hex().upper()}))


if __name__ == "__main__":
    if sys.argv[1] == "requests":
        requests()
    else:
        parse(sys.argv[2:])
