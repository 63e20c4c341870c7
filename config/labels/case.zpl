{#- A case label, 4 x 3 in at 203 dpi (ZPL II). Variables: gtin (14 digits), lot, expiry
    (YYMMDD), serial; `copies` and `reprint` are set by the print queue. The barcode is a
    plain Code 128 of the serial: GS1-128 / DataMatrix helpers are not built yet. -#}
^XA
^CI28
^PW812
^LL609
^FO40,30^A0N,36,36^FDGTIN {{ gtin }}^FS
^FO40,80^A0N,36,36^FDLOT {{ lot }}  EXP {{ expiry }}^FS
^FO40,130^A0N,36,36^FDSERIAL {{ serial }}^FS
{%- if reprint %}
^FO560,30^A0N,40,40^FR^FDREPRINT^FS
{%- endif %}
^FO40,200^BY3^BCN,160,Y,N,N^FD{{ serial }}^FS
^PQ{{ copies }}
^XZ
