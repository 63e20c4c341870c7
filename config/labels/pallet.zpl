{#- A pallet label with an RFID inlay, 4 x 6 in at 203 dpi (ZPL II on an RFID printer such as
    a Zebra ZT411R). Variable: sscc (18 digits). The tag's EPC bank is written with the
    SSCC-96 of the same SSCC the bar code carries (^RS8 Gen 2, ^RFW hex); the company prefix
    length comes from the GCP length table ([identifiers]). -#}
{%- set ais = "(00)" ~ sscc -%}
^XA
{{ rfid_epc(ais) }}
^PW812
^LL1218
^FO40,40^A0N,40,40^FDSSCC^FS
^FO40,100^A0N,36,36^FD{{ gs1_text(ais) }}^FS
{%- if reprint %}
^FO560,40^A0N,40,40^FR^FDREPRINT^FS
{%- endif %}
^FO60,180{{ gs1_128(ais, height=200, module=3) }}
^PQ{{ copies }}
^XZ
