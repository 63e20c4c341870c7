{#- A serialised case label, 4 x 3 in at 203 dpi (ZPL II). Variables: gtin (14 digits), lot,
    expiry (YYMMDD), serial; `copies` and `reprint` are set by the print queue. Every symbol
    is written by a GS1 helper from the same AIs, checked at submit (a wrong check digit or
    date is refused before a byte is printed); the job records them, and its commissioning
    event names the same SGTIN with the lot and expiry as ILMD. -#}
{%- set ais = "(01)" ~ gtin ~ "(17)" ~ expiry ~ "(10)" ~ lot ~ "(21)" ~ serial -%}
^XA
^CI28
^PW812
^LL609
^FO40,30^A0N,30,30^FD{{ gs1_text(ais) }}^FS
{%- if reprint %}
^FO600,70^A0N,40,40^FR^FDREPRINT^FS
{%- endif %}
^FO40,80{{ gs1_128(ais, height=140, module=2) }}
^FO40,300{{ gs1_datamatrix(ais, module=8) }}
^FO330,300{{ gs1_qr(ais, module=4) }}
^PQ{{ copies }}
^XZ
