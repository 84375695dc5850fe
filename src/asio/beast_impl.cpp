// The single translation unit that holds Beast's compiled implementation
// (BOOST_BEAST_SEPARATE_COMPILATION is set for every user of astmrf::asio).
#include <boost/beast/src.hpp>
