"""The Chafon / UHFReader18 protocol as wabson.chafon-rfid (PyPI, by Will Abson, MIT) builds
and parses it, for tests/chafon_interop.rs: tracegate's codec is checked against an
implementation it did not write (its own CRC, frame builder and response parsers).

    python chafon_rfid_uhfreader18.py requests        # the command frames it builds, one per line
    python chafon_rfid_uhfreader18.py parse HEX...    # its reading of response frames (JSON per line)
    python chafon_rfid_uhfreader18.py round HEX       # the EPCs of a round's frames, concatenated
"""
import json
import sys

from chafon_rfid.base import ReaderCommand, ReaderInfoFrame, ReaderResponseFrame
from chafon_rfid.command import (
    CF_GET_READER_INFO,
    CF_SET_READER_INVENTORY_TIME,
    CF_SET_RF_POWER,
    G2_TAG_INVENTORY,
)
from chafon_rfid.uhfreader18 import G2InventoryResponse, G2InventoryResponseFrame


def requests():
    # The broadcast address, as tracegate drives a reader by default.
    out = {
        "inventory": ReaderCommand(G2_TAG_INVENTORY),
        "get_reader_info": ReaderCommand(CF_GET_READER_INFO),
        "set_power_20": ReaderCommand(CF_SET_RF_POWER, data=[20]),
        "set_scan_time_10": ReaderCommand(CF_SET_READER_INVENTORY_TIME, data=[10]),
        "inventory_addr_0": ReaderCommand(G2_TAG_INVENTORY, addr=0),
    }
    for name, command in out.items():
        print(name, command.serialize().hex().upper())


def parse(frames):
    for hexframe in frames:
        raw = bytearray.fromhex(hexframe)
        frame = ReaderResponseFrame(raw)
        if frame.resp_cmd == CF_GET_READER_INFO:
            info = ReaderInfoFrame(raw)
            print(json.dumps({
                "type": "INFO",
                "reader_type": info.type.name,
                "version": list(info.firmware_version),
                "band": info.frequency_band.name,
                "min_mhz": round(info.get_min_frequency(), 3),
                "max_mhz": round(info.get_max_frequency(), 3),
                "power": info.power,
                "scan_time": info.scan_time,
                "gen2": info.supports_6c,
            }))
        elif frame.resp_cmd == G2_TAG_INVENTORY:
            inv = G2InventoryResponseFrame(raw)
            print(json.dumps({
                "type": "INVENTORY",
                "status": inv.result_status,
                "epcs": [bytes(tag.epc).hex().upper() for tag in inv.get_tag()],
            }))
        else:
            print(json.dumps({"type": "STATUS", "command": frame.resp_cmd, "status": frame.result_status}))


def round_(hexframes):
    response = G2InventoryResponse(bytearray.fromhex(hexframes))
    for tag in response.get_tag():
        print(bytes(tag.epc).hex().upper())


if __name__ == "__main__":
    if sys.argv[1] == "requests":
        requests()
    elif sys.argv[1] == "round":
        round_(sys.argv[2])
    else:
        parse(sys.argv[2:])
