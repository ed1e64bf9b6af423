// Empty translation unit: libpda is made of pda_static, linked whole.
