# Turns the report's page template, style and script (api/report_assets/) into a C++ header of raw
# string literals, so that pda writes self-contained reports without finding files at run time.
# Usage: cmake -DSRC=<api/report_assets> -DOUT=<header> -P embed_report_assets.cmake
set(text "// Generated from api/report_assets/ by cmake/embed_report_assets.cmake: do not edit.\n#pragma once\n\n")
foreach(pair "report.html;kReportHtml" "report.css;kReportCss" "report.js;kReportJs")
    list(GET pair 0 file)
    list(GET pair 1 name)
    file(READ ${SRC}/${file} body)
    string(FIND "${body}" ")pda_asset\"" bad)
    if(NOT bad EQUAL -1)
        message(FATAL_ERROR "${file} contains the raw string's delimiter")
    endif()
    string(APPEND text "inline constexpr const char* ${name} = R\"pda_asset(${body})pda_asset\";\n\n")
endforeach()
file(WRITE ${OUT}.tmp "${text}")
file(RENAME ${OUT}.tmp ${OUT})
