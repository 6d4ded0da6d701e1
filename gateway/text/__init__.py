"""Pure SMS text handling: GSM 03.38, UCS2, part counting, UDH/SAR splitting. No I/O."""
