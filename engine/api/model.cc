// placeholder until the API lands
#include "pda/pda.h"
