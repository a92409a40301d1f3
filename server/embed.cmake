# cmake -DIN=file -DOUT=file.c -DSYMBOL=name -P embed.cmake: writes `const unsigned char name[]`
# (NUL-terminated) and `const size_t name_len` holding the bytes of IN.
file(READ ${IN} _hex HEX)
string(LENGTH "${_hex}" _n)
math(EXPR _bytes "${_n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _arr "${_hex}")
string(REGEX REPLACE "((0x..,){24})" "\\1\n" _arr "${_arr}")
file(WRITE ${OUT} "/* generated from ${IN} by server/embed.cmake; do not edit */\n#include <stddef.h>\n"
     "const unsigned char ${SYMBOL}[] = {\n${_arr}0x00};\nconst size_t ${SYMBOL}_len = ${_bytes};\n")
